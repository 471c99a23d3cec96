#!/usr/bin/env python3
"""pycocotools as the reference for preflight's average precision (src/suite/ap.rs).

    python3 tools/coco_reference.py eval GROUND_TRUTH.json DETECTIONS.json
        # prints {"map50": …, "map50_95": …, "per_class": {name: AP over 0.50:0.95}} (JSON)
    python3 tools/coco_reference.py fixture DIR
        # writes DIR/ground_truth.json and DIR/detections.json: the committed test fixture

`eval` runs pycocotools' COCOeval for boxes (area range "all", at most 100 detections per
image) in the cases' venv (tools/requirements-ppocr.txt pins pycocotools 2.0.11 and numpy).
`fixture` needs nothing but the standard library: 16 images, three classes, boxes of every
size, a crowd region, near misses, duplicates and false alarms, from a seeded generator, so
the fixture can be re-made and reviewed.
"""
import contextlib
import io
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))


def cocoeval(gt_path, detections):
    """pycocotools' COCOeval for boxes, run quietly; `detections` a file or a list. Returns the
    ground truth and the evaluation (the caller's venv must hold pycocotools)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(detections)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return gt, ev


def evaluate(gt_path, dt_path):
    import make_ppocr_cases as ppocr
    ppocr.in_venv(__file__)
    gt, ev = cocoeval(gt_path, dt_path)
    # precision[T, R, K, A, M]: IoU thresholds, recall points, classes, area ranges, maxDets.
    p = ev.eval["precision"][:, :, :, 0, -1]
    per_class = {}
    for k, cat in enumerate(ev.params.catIds):
        v = p[:, :, k]
        if (v > -1).any():
            per_class[gt.cats[cat]["name"]] = float(v[v > -1].mean())
    print(json.dumps({"map50": float(ev.stats[1]), "map50_95": float(ev.stats[0]),
                      "per_class": per_class}, sort_keys=True))


def fixture(out_dir):
    rng = random.Random(31)
    classes = ["person", "car", "dog"]
    images, truths, found = [], [], []
    for i in range(16):
        w, h = rng.choice([(640, 480), (800, 600), (320, 240)])
        images.append({"id": i + 1, "file_name": f"img_{i:02}.png", "width": w, "height": h})
        for _ in range(rng.randint(0, 5)):
            cat = rng.randrange(len(classes)) + 1
            bw = rng.choice([rng.uniform(6, 30), rng.uniform(30, 90), rng.uniform(90, 250)])
            bh = bw * rng.uniform(0.5, 2.0)
            x, y = rng.uniform(0, max(1, w - bw)), rng.uniform(0, max(1, h - bh))
            bw, bh = min(bw, w - x), min(bh, h - y)
            box = [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)]
            crowd = 1 if rng.random() < 0.05 else 0
            truths.append({"id": len(truths) + 1, "image_id": i + 1, "category_id": cat,
                           "bbox": box, "area": round(box[2] * box[3], 2), "iscrowd": crowd})
            # Detections around it: found (jittered), found twice, or missed.
            for _ in range(rng.choice([0, 1, 1, 1, 2])):
                j = rng.uniform(0.0, 0.35)
                dx, dy = rng.uniform(-j, j) * box[2], rng.uniform(-j, j) * box[3]
                sw, sh = rng.uniform(1 - j, 1 + j), rng.uniform(1 - j, 1 + j)
                wrong = rng.random() < 0.1
                found.append({"image_id": i + 1,
                              "category_id": (cat % len(classes)) + 1 if wrong else cat,
                              "bbox": [round(box[0] + dx, 2), round(box[1] + dy, 2),
                                       round(box[2] * sw, 2), round(box[3] * sh, 2)],
                              "score": round(rng.uniform(0.05, 0.99), 4)})
        for _ in range(rng.randint(0, 3)):
            bw, bh = rng.uniform(10, 120), rng.uniform(10, 120)
            found.append({"image_id": i + 1, "category_id": rng.randrange(len(classes)) + 1,
                          "bbox": [round(rng.uniform(0, w - bw), 2), round(rng.uniform(0, h - bh), 2),
                                   round(bw, 2), round(bh, 2)],
                          "score": round(rng.uniform(0.05, 0.9), 4)})
    gt = {"images": images, "annotations": truths,
          "categories": [{"id": k + 1, "name": n} for k, n in enumerate(classes)]}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "ground_truth.json"), "w") as f:
        json.dump(gt, f, indent=1)
        f.write("\n")
    with open(os.path.join(out_dir, "detections.json"), "w") as f:
        json.dump(found, f, indent=1)
        f.write("\n")
    print(f"{out_dir}: {len(images)} images, {len(truths)} boxes, {len(found)} detections")


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "eval":
        evaluate(os.path.abspath(args[1]), os.path.abspath(args[2]))
    elif len(args) == 2 and args[0] == "fixture":
        fixture(args[1])
    else:
        sys.exit(__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main()
