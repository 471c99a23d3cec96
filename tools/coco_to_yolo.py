#!/usr/bin/env python3
"""Write a COCO detection export as a YOLO-format export, the layout Ultralytics trains from.

    python3 tools/coco_to_yolo.py ANNOTATIONS.json OUT

OUT/images/<file>          the images, copied
OUT/labels/<stem>.txt      a line `class cx cy w h` per box, shares of the image's size
OUT/classes.txt            the class names, one per line, in category-id order (the order
                           YOLOv8's 80 COCO classes follow)

Images are found relative to the JSON's folder, as `preflight`'s `[[datasets]]` finds them.
Crowd regions are left out, as preflight leaves them out. Standard library only.
"""
import argparse
import json
import os
import shutil
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotations")
    parser.add_argument("out")
    args = parser.parse_args()
    with open(args.annotations, encoding="utf-8") as f:
        coco = json.load(f)
    base = os.path.dirname(os.path.abspath(args.annotations))
    categories = sorted(coco["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(categories)}
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "labels"), exist_ok=True)
    with open(os.path.join(args.out, "classes.txt"), "w", encoding="utf-8") as f:
        f.write("".join(c["name"] + "\n" for c in categories))
    lines = {im["id"]: [] for im in coco["images"]}
    for a in coco["annotations"]:
        if a.get("iscrowd", 0):
            continue
        lines[a["image_id"]].append(a)
    for im in coco["images"]:
        w, h = im["width"], im["height"]
        src = os.path.join(base, im["file_name"])
        name = os.path.basename(im["file_name"])
        shutil.copyfile(src, os.path.join(args.out, "images", name))
        stem = os.path.splitext(name)[0]
        rows = []
        for a in lines[im["id"]]:
            x, y, bw, bh = a["bbox"]
            rows.append(f"{index[a['category_id']]} {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} "
                        f"{bw / w:.6f} {bh / h:.6f}\n")
        with open(os.path.join(args.out, "labels", stem + ".txt"), "w", encoding="utf-8") as f:
            f.write("".join(rows))
    print(f"{args.out}: {len(coco['images'])} images, {len(categories)} classes, "
          f"{sum(len(v) for v in lines.values())} boxes")


if __name__ == "__main__":
    sys.exit(main())
