#!/usr/bin/env python3
"""preflight beside what a camera vendor would otherwise write: Python + onnxruntime + Pillow.

    python3 tools/bench_vs_ort.py [--iterations 200] [--rounds 5] [--warmup 20] [--out FILE]

Builds preflight in release (`cargo build --release --bin preflight --example raw_tract`),
then for BlazeFace and the three PP-OCR models times the same work on each side, one thread,
in one run, and prints one table (written to --out as well):

- pipeline: a decoded image in memory -> resized, normalised tensor -> inference -> decoded
  result (BlazeFace: scores over the threshold; det: the text map thresholded; cls: the top
  class; rec: greedy CTC). preflight: `preflight bench --image`, which times exactly that.
  Python: Pillow resize (bilinear) + numpy normalisation + onnxruntime + numpy decoding.
- inference: the model alone on a ready tensor. onnxruntime `session.run`; preflight
  `preflight bench` on an image already at the input size (no resampling: normalisation,
  the plan, decoding); raw tract (`examples/raw_tract.rs`, tract's own API, no preflight).
- open: bundle/session open -> first result (preflight's cold start, from its cache of
  decluttered graphs, filled before the rounds, and with that cache off; onnxruntime session
  creation + first run).

Runs itself in the pinned venv of tools/requirements-ppocr.txt (onnxruntime 1.20.1, numpy,
Pillow), like tools/make_ppocr_cases.py. PP-OCR models come from the model cache
(tools/fetch_ppocr.py). The sides are measured in --rounds interleaved rounds (the machine
is shared: load that comes and goes must not land on one side only); each figure is the
median of its rounds' medians. The ratios are preflight / reference, below 1 is faster.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

# bundle, case image, and how the Python pipeline prepares and decodes it.
CASES = [
    ("models/blazeface", "cases/astronaut.png"),
    ("models/ppocr-det", "cases/page.png"),
    ("models/ppocr-cls", "cases/line_01.png"),
    ("models/ppocr-rec", "cases/rendered_00.png"),
]


def load_bundle(bundle_dir):
    with open(os.path.join(ROOT, bundle_dir, "bundle.toml"), "rb") as f:
        return tomllib.load(f)


def model_file(bundle_dir, bundle):
    m = bundle["model"]
    if "path" in m:
        return os.path.join(ROOT, bundle_dir, m["path"])
    from fetch_ppocr import cache_root
    return os.path.join(cache_root(), m["cache"])


def geometry(spec, iw, ih):
    """(width, height, content width) of the input for an iw x ih image, as preflight sizes it."""
    layout = spec["layout"]
    shape = spec["shape"]
    h, w = (shape[2], shape[3]) if layout == "nchw" else (shape[1], shape[2])
    mode = spec["resize"]
    m = spec.get("multiple", 32)
    if mode == "stretch":
        return w, h, w
    if mode == "fit-longer-side":
        scale = max(h, w) / max(iw, ih)
        tw = max(m, round(iw * scale / m) * m)
        th = max(m, round(ih * scale / m) * m)
        return tw, th, tw
    if mode == "pad-right":
        cw = max(1, round(iw * h / ih))
        width = w
        if spec.get("max_width") and cw > w:
            width = min(math.ceil(cw / m) * m, spec["max_width"])
        return width, h, min(cw, width)
    sys.exit(f"error: resize {mode!r} is not handled here")


def prepare(np, Image, img, spec):
    """Pillow resize + numpy normalisation into the model's tensor."""
    tw, th, cw = geometry(spec, *img.size)
    resized = np.asarray(img.resize((cw, th), Image.BILINEAR), dtype=np.float32)
    if spec["color"] == "bgr":
        resized = resized[:, :, ::-1]
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    normed = (resized * np.float32(spec["scale"]) - mean) / std
    pad = (np.float32(spec.get("pad", 0.0)) * np.float32(spec["scale"]) - mean) / std
    out = np.empty((th, tw, 3), dtype=np.float32)
    out[:, :] = pad
    out[:, :cw] = normed
    if spec["layout"] == "nchw":
        return out.transpose(2, 0, 1)[None].copy()
    return out[None]


def decode(np, bundle, outputs, names):
    kind = bundle["output"]["kind"]
    if kind == "detection":
        o = bundle["output"]
        scores = np.concatenate([outputs[names.index(s)].reshape(-1) for s in o["scores"]])
        probs = 1.0 / (1.0 + np.exp(-np.clip(scores, -100, 100)))
        return int((probs >= o["score_threshold"]).sum())
    if kind == "segmentation":
        return int((outputs[0] > bundle["output"]["threshold"]).sum())
    if kind == "classification":
        return int(np.argmax(outputs[0].reshape(-1)))
    if kind == "ctc":
        best = outputs[0][0].argmax(axis=1)
        keep = (best != 0) & np.concatenate(([True], best[1:] != best[:-1]))
        return int(keep.sum())
    sys.exit(f"error: output kind {kind!r} is not handled here")


def timed(fn, iterations, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def preflight_bench(binary, bundle_dir, image, iterations, warmup, cache=True):
    env = dict(os.environ)
    env.pop("PREFLIGHT_DECLUTTER_CACHE", None)
    if not cache:
        env["PREFLIGHT_DECLUTTER_CACHE"] = "off"
    out = subprocess.run(
        [binary, "bench", os.path.join(ROOT, bundle_dir), "--image", image, "--iterations",
         str(iterations), "--warmup", str(warmup), "--format", "json"],
        check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    return json.loads(out)


def main():
    from make_ppocr_cases import in_venv
    from ppocr_reference import cpu_name
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs before each round")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds; each figure is the median of the rounds' medians")
    parser.add_argument("--out", help="also write the table and the machine to this file")
    parser.add_argument("--no-build", action="store_true", help="use target/release as it is")
    args = parser.parse_args()
    in_venv(os.path.abspath(__file__))
    import numpy as np
    import onnxruntime as ort
    from PIL import Image
    import tempfile

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "preflight", "--example",
                        "raw_tract"], check=True, cwd=ROOT)
    binary = os.path.join(target, "release", "preflight")
    raw_tract = os.path.join(target, "release", "examples", "raw_tract")

    rows = []
    for bundle_dir, case in CASES:
        bundle = load_bundle(bundle_dir)
        spec = bundle["input"]
        path = model_file(bundle_dir, bundle)
        image_path = os.path.join(ROOT, bundle_dir, case)
        img = Image.open(image_path).convert("RGB")
        img.load()
        x = prepare(np, Image, img, spec)

        # The machine is shared: measuring one side after the other lets a burst of load on
        # the host land on one side only. Both sides are measured in interleaved rounds and
        # each figure is the median of its rounds' medians.
        per_round = max(1, args.iterations // args.rounds)
        shape = list(x.shape)
        h, w = (shape[2], shape[3]) if spec["layout"] == "nchw" else (shape[1], shape[2])
        figures = {k: [] for k in ("ort_open", "ort_pipeline", "ort_infer", "resize_norm",
                                   "pf_pipeline", "pf_open", "pf_open_uncached", "pf_infer", "raw")}
        with tempfile.TemporaryDirectory() as tmp:
            # The same tensor geometry as an image: preflight's inference without resampling.
            at_size = os.path.join(tmp, "at-size.png")
            Image.new("RGB", (w, h), (128, 128, 128)).save(at_size)
            # Fills the cache of decluttered graphs for both images' sizes.
            for image in (image_path, at_size):
                preflight_bench(binary, bundle_dir, image, 1, 0)
            for _ in range(args.rounds):
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                t = time.perf_counter()
                sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                name = sess.get_inputs()[0].name
                names = [o.name for o in sess.get_outputs()]
                sess.run(None, {name: x})
                figures["ort_open"].append((time.perf_counter() - t) * 1e3)

                def pipeline():
                    t = prepare(np, Image, img, spec)
                    decode(np, bundle, sess.run(None, {name: t}), names)

                figures["ort_pipeline"].append(timed(pipeline, per_round, args.warmup))
                figures["ort_infer"].append(
                    timed(lambda: sess.run(None, {name: x}), per_round, args.warmup))
                figures["resize_norm"].append(
                    timed(lambda: prepare(np, Image, img, spec), per_round, args.warmup))
                pf = preflight_bench(binary, bundle_dir, image_path, per_round, args.warmup)
                figures["pf_pipeline"].append(pf["latency_ms"]["p50"])
                figures["pf_open"].append(pf["cold_start_ms"])
                uncached = preflight_bench(binary, bundle_dir, image_path, 1, 0, cache=False)
                figures["pf_open_uncached"].append(uncached["cold_start_ms"])
                pf_infer = preflight_bench(binary, bundle_dir, at_size, per_round, args.warmup)
                figures["pf_infer"].append(pf_infer["latency_ms"]["p50"])
                raw = json.loads(subprocess.run(
                    [raw_tract, path, ",".join(map(str, shape)), str(per_round),
                     str(args.warmup)], check=True, capture_output=True, text=True).stdout)
                figures["raw"].append(raw["p50_ms"])
        f = {k: statistics.median(v) for k, v in figures.items()}
        rows.append({
            "bundle": bundle["name"], "case": f"{os.path.basename(case)} {img.size[0]}x{img.size[1]}",
            "input": "x".join(map(str, shape)),
            "pipeline": (f["pf_pipeline"], f["ort_pipeline"]),
            "inference": (f["pf_infer"], f["ort_infer"], f["raw"]),
            "resize_norm_py": f["resize_norm"],
            "open": (f["pf_open"], f["pf_open_uncached"], f["ort_open"]),
        })

    lines = [
        "| model (image → input) | pipeline: preflight / Python ms | ratio | inference: preflight / onnxruntime / raw tract ms | preflight÷ort | preflight÷tract | open → first result: preflight cached / uncached / ort ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        (pp, po), (ip, io, it), (op, ou, oo) = r["pipeline"], r["inference"], r["open"]
        lines.append(
            f"| {r['bundle']} ({r['case']} → {r['input']}) | {pp:.2f} / {po:.2f} | {pp / po:.2f} "
            f"| {ip:.2f} / {io:.2f} / {it:.2f} | {ip / io:.2f} | {ip / it:.2f} | {op:.1f} / {ou:.1f} / {oo:.1f} |")
    machine = (f"{cpu_name()}, {os.cpu_count()} logical cores, {platform.system()} "
               f"{platform.release()}; onnxruntime {ort.__version__}, numpy {np.__version__}, "
               f"Pillow {Image.__version__}; preflight release build; one thread each; median of "
               f"{args.rounds} interleaved rounds' medians, {args.iterations // args.rounds} runs "
               f"per round after {args.warmup} warm-up")
    text = "\n".join(lines) + "\n\n" + machine + "\n"
    print(text)
    for r in rows:
        print(f"{r['bundle']}: Python resize + normalise alone {r['resize_norm_py']:.2f} ms")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
