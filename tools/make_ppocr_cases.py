#!/usr/bin/env python3
"""Regenerate the PP-OCR bundles' cases (models/ppocr-{det,cls,rec}/cases/) from pinned packages.

    python3 tools/make_ppocr_cases.py            # writes the cases and their labels.json
    python3 tools/make_ppocr_cases.py --check    # fails if the committed cases differ

Crops, turns and rendering need Pillow and numpy, so the script runs itself inside a venv
(~/.cache/preflight/venv-ppocr, next to $PREFLIGHT_MODELS) built from
tools/requirements-ppocr.txt with `pip install --require-hashes` (pinned versions and
sha256); the same venv runs tools/ppocr_reference.py. PNGs are written by Pillow with fixed
options and no metadata, so the output is byte for byte reproducible with the pinned wheels.

Sources (every download checked against a pinned sha256):
  * PyPI scikit-image==0.26.0 (skimage/data; wheel pinned in make_blazeface_cases.py):
    page.png, a scanned text page (heading "Region-based segmentation"); chelsea.png,
    coffee.png, camera.png, astronaut.png as text-free photos (astronaut only as a crop
    of the face: its suit patches carry text).
  * PyPI ocrmypdf==16.5.0 sdist (tests/resources), text this project did not make:
    crom.png (synthetic line; (C) 2023 James R. Barlow, CC-BY-SA-4.0) and linn.png (a
    scanned 1985 LinnSequencer brochure; (C) 1985 Forat Electronics, GFDL-1.2-or-later or
    CC-BY-SA-3.0), per the sdist's .reuse/dep5. Written up in ppocr-rec/cases/SOURCES.md.
  * Lines rendered here with Aileron Regular, the TrueType font embedded in Pillow 13.0.0
    (ImageFont.load_default, drawn by the wheel's bundled FreeType).

Ground truth: the page's text-line boxes come from a horizontal projection profile of its
binarised ink (rows -> line bands split at the emptiest row between line cores; per band
the min/max ink columns); transcriptions were typed from the upscaled images.
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
REQUIREMENTS = os.path.join(ROOT, "tools", "requirements-ppocr.txt")
KINDS = ["ppocr-det", "ppocr-cls", "ppocr-rec", "ppocr", "doc-orientation", "doc-layout"]

OCRMYPDF_VERSION = "16.5.0"
OCRMYPDF_SDIST = "ocrmypdf-16.5.0.tar.gz"
OCRMYPDF_SHA256 = "cd96bddfb3a986be7bf7857757919332e1db5dab780eb7b321fdea38f60127ac"
OCRMYPDF_FILES = {  # file in tests/resources -> sha256
    "crom.png": "9d6a8474e58713c5ee77e4e03e90d89742e240d8a8358574ffce0bc1cb56bdbe",
    "linn.png": "dcd90f08a6b8a733612f818330153636c13283dd548e2e092cad1fe628ec7bf3",
    # (C) 2005 Ellywa, GFDL-1.2-or-later or CC-BY-SA-1.0..3.0 (.reuse/dep5): doc-orientation
    "typewriter.png": "6f7a83685a83af954e9672b3e2db3253af165513d2826d780a48e175742f4469",
}
SKIMAGE_FILES = ["page.png", "chelsea.png", "coffee.png", "camera.png", "astronaut.png"]

# page.png's text lines top to bottom, as printed (read off the upscaled scan). Below the
# code line the page ends in a line cut in half by the bottom border ("...-image.org/d...",
# only the tops of its letters, in the bottom-left corner CUT_LINE): its ink is dropped and it
# is in no label.
PAGE_LINES = [
    "Region-based segmentation",
    "Let us first determine markers of the coins and the",
    "background. These markers are pixels that we can label",
    "unambiguously as either object or background. Here,",
    "the markers are found at the two extreme parts of the",
    "histogram of grey values:",
    ">>> markers = np.zeros_like(coins)",
]
CUT_LINE = (0, 183, 100, 191)
# Detection crops of page.png (x0, y0, x1, y1): rows cut only in the blank gaps between lines.
PAGE_CROPS = {
    "page-top": (0, 0, 384, 160),       # heading and paragraph; already 384x160 (parity)
    "page-heading": (0, 0, 320, 44),
    "page-para": (0, 44, 384, 140),     # the five paragraph lines, 384x96
}
# Text-free detection cases: whole photos, and crops (x0, y0, x1, y1) of them.
NEGATIVES = ["chelsea.png", "coffee.png", "camera.png"]
NEGATIVE_CROPS = {
    "chelsea-crop": ("chelsea.png", (33, 22, 417, 278)),       # 384x256, detector geometry
    "astronaut-face": ("astronaut.png", (96, 0, 352, 256)),   # face and hair, no patches
}
# Recogniser parity crops: words of a page line (line index, first word, last word, text),
# scaled to height 48 (each at most 320 wide, so no resampling in preflight or the reference).
PARITY_WORDS = [
    ("parity_region", 0, 0, 0, "Region-based"),
    ("parity_histogram", 5, 0, 1, "histogram of"),
]
RENDERED = [
    "preflight checks text",
    "Low contrast 42",
    "Camera 7 at 1080p",
    "The quick brown fox",
    "Serve only when it passes",
    "OCR on ARM",
]
RENDER_SIZE = 32      # Aileron at 32 px: ascent 32 + descent 8, centred in a 48 px line
CLS_WIDTH = 192       # the direction classifier's input: 48 x 192
# Unseen lines cropped from linn.png: (case id, box, text). The crops start after the bullet.
LINN_LINES = [
    ("unseen_linn_transposed", (377, 849, 1644, 907),
     "One or all tracks may be TRANSPOSED at the touch of a key."),
    ("unseen_linn_smpte", (377, 1131, 1293, 1189), "Optional SMPTE time code synchronization."),
]
CROM_TEXT = "Covfefe is a perfectly cromulent word."
# Pipeline cases (models/ppocr): blocks of whole lines of linn.png at the scan's resolution,
# starting after the bullets: (case id, box, text).
LINN_BLOCKS = [
    ("linn-transposed-erase", (377, 846, 1660, 968),
     "One or all tracks may be TRANSPOSED at the touch of a key.\n"
     "Exclusive real-time ERASE function makes editing FAST."),
    ("linn-optional", (377, 1125, 1300, 1248),
     "Optional SMPTE time code synchronization.\nOptional remote control."),
]
# A block of linn.png (bullets "One or all tracks ..." to "Optional remote control."),
# scaled by 1/2.5 to 384x160 for detection; lines are cut by the crop's right edge.
LINN_BLOCK = (340, 846, 1300, 1246)


def venv_dir(name="venv-ppocr"):
    models = os.environ.get("PREFLIGHT_MODELS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "preflight", "models")
    return os.path.join(os.path.dirname(os.path.abspath(models)), name)


def in_venv(script, requirements=REQUIREMENTS, name="venv-ppocr"):
    """Re-runs `script` inside the venv `name` pinned by `requirements` (creating it first)
    unless already there. tools/imagenet_c_reference.py uses it for its own venv."""
    venv = venv_dir(name)
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    python = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, "requirements.sha256")
    with open(requirements, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    have = open(stamp).read().strip() if os.path.exists(stamp) else None
    if have != want:
        subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--require-hashes", "-r", requirements], check=True)
        with open(stamp, "w") as f:
            f.write(want)
    os.execv(python, [python, os.path.abspath(script)] + sys.argv[1:])


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch_ocrmypdf(workdir):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
                    "-d", workdir, f"ocrmypdf=={OCRMYPDF_VERSION}"],
                   check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(workdir, OCRMYPDF_SDIST)
    with open(path, "rb") as f:
        got = sha256(f.read())
    if got != OCRMYPDF_SHA256:
        sys.exit(f"error: {path}: sha256 {got}, expected {OCRMYPDF_SHA256}")
    out = {}
    with tarfile.open(path) as t:
        for name, digest in OCRMYPDF_FILES.items():
            data = t.extractfile(f"ocrmypdf-{OCRMYPDF_VERSION}/tests/resources/{name}").read()
            if sha256(data) != digest:
                sys.exit(f"error: {name} in {OCRMYPDF_SDIST}: sha256 {sha256(data)}, expected {digest}")
            out[name] = data
    return out


def skimage_files(workdir):
    import make_blazeface_cases as blazeface
    wheel = blazeface.fetch_wheel(workdir)
    with zipfile.ZipFile(wheel) as z:
        return {n: z.read(f"skimage/data/{n}") for n in SKIMAGE_FILES}


def open_png(data):
    from PIL import Image
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def save(img, path):
    # Pillow's PNG writer is deterministic for fixed options and no metadata.
    img.save(path, format="PNG", optimize=False, compress_level=9)


def write_image(path, img_or_data):
    """A source file's bytes as they are, or an image made here (see `save`)."""
    if isinstance(img_or_data, bytes):
        with open(path, "wb") as f:
            f.write(img_or_data)
    else:
        save(img_or_data, path)


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


# --- ink and text lines ----------------------------------------------------------------------

def components(mask):
    """8-connected components of a boolean array: a list of (ys, xs) index arrays."""
    import numpy as np
    h, w = mask.shape
    seen = np.zeros_like(mask)
    comps = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        stack, ys, xs = [(y0, x0)], [], []
        while stack:
            y, x = stack.pop()
            ys.append(y)
            xs.append(x)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    v, u = y + dy, x + dx
                    if 0 <= v < h and 0 <= u < w and mask[v, u] and not seen[v, u]:
                        seen[v, u] = True
                        stack.append((v, u))
        comps.append((np.array(ys), np.array(xs)))
    return comps


def page_ink(page):
    """page.png's ink: darker than 0.72 x the local (31x31 box) mean, which copes with the
    scan's uneven lighting; minus specks (< 4 px) and components inside CUT_LINE."""
    import numpy as np
    from PIL import ImageFilter
    gray = page.convert("L")
    a = np.asarray(gray).astype(float)
    background = np.asarray(gray.filter(ImageFilter.BoxBlur(15))).astype(float)
    ink = a < background * 0.72
    cx0, cy0, cx1, cy1 = CUT_LINE
    kept = np.zeros_like(ink)
    for ys, xs in components(ink):
        inside = ys.min() >= cy0 and ys.max() < cy1 and xs.min() >= cx0 and xs.max() < cx1
        if len(ys) >= 4 and not inside:
            kept[ys, xs] = True
    return kept


def clean_ink(img):
    """Ink of a clean black-on-white image (rendered or a sharp scan)."""
    import numpy as np
    return np.asarray(img.convert("L")) < 128


def line_boxes(ink):
    """Text-line boxes [x0, y0, x1, y1] (x1, y1 exclusive) from a horizontal projection
    profile: rows holding at least 15% of the busiest row's ink are line cores (cores closer
    than 3 rows merge); the rows between two cores go to the upper line down to the emptiest
    row, which starts the lower line (ascenders); each band is trimmed to its ink."""
    import numpy as np
    counts = ink.sum(1)
    core = counts >= max(1, 0.15 * counts.max())
    runs = []
    for y in np.nonzero(core)[0]:
        if runs and y - runs[-1][1] <= 3:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    starts = [0] + [a_end + 1 + int(np.argmin(counts[a_end + 1:b_start]))
                    for (_, a_end), (b_start, _) in zip(runs, runs[1:])]
    ends = starts[1:] + [len(counts)]
    boxes = []
    for y0, y1 in zip(starts, ends):
        rows = np.nonzero(counts[y0:y1])[0] + y0
        cols = np.nonzero(ink[y0:y1].sum(0))[0]
        boxes.append([int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1])
    return boxes


def words(ink, box, gap=4):
    """Column spans [x0, x1) of the words inside a line box: ink separated by >= gap empty columns."""
    import numpy as np
    x0, y0, x1, y1 = box
    cols = np.nonzero(ink[y0:y1, x0:x1].sum(0))[0] + x0
    spans = [[int(cols[0]), int(cols[0]) + 1]]
    for c in cols[1:]:
        if c - spans[-1][1] >= gap:
            spans.append([int(c), int(c) + 1])
        else:
            spans[-1][1] = int(c) + 1
    return spans


def pad_box(box, width, height, dx=3, dy=2):
    x0, y0, x1, y1 = box
    return (max(x0 - dx, 0), max(y0 - dy, 0), min(x1 + dx, width), min(y1 + dy, height))


def crop_boxes(boxes, crop):
    """Line boxes of the page inside a crop, in the crop's pixels (clipped to it)."""
    cx0, cy0, cx1, cy1 = crop
    out = []
    for x0, y0, x1, y1 in boxes:
        if x1 <= cx0 or x0 >= cx1 or y1 <= cy0 or y0 >= cy1:
            continue
        if y0 < cy0 or y1 > cy1:
            sys.exit(f"error: crop {crop} cuts through line box {[x0, y0, x1, y1]}")
        out.append([max(x0, cx0) - cx0, y0 - cy0, min(x1, cx1) - cx0, y1 - cy0])
    return out


# --- images ----------------------------------------------------------------------------------

def render(text):
    """Black text on white, exactly 48 px tall, 8 px margins left and right."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default(size=RENDER_SIZE)
    ascent, descent = font.getmetrics()
    img = Image.new("L", (round(font.getlength(text)) + 16, 48), 255)
    ImageDraw.Draw(img).text((8, (48 - ascent - descent) // 2), text, font=font, fill=0)
    return img


def to_height(img, height=48):
    """Scaled to `height` keeping aspect: the recogniser's and classifier's geometry, so
    preflight's pad-right resize and the onnxruntime reference need no resampling of their own."""
    from PIL import Image
    if img.height == height:
        return img
    width = max(1, round(img.width * height / img.height))
    return img.resize((width, height), Image.LANCZOS)


def cls_windows(img):
    """At most 192 wide at height 48: the whole line, or three 192-column windows of it:
    the middle one (no suffix), the start and the end."""
    img = to_height(img)
    if img.width <= CLS_WIDTH:
        return [("", img)]
    mid = (img.width - CLS_WIDTH) // 2
    return [("", img.crop((mid, 0, mid + CLS_WIDTH, 48))),
            ("_start", img.crop((0, 0, CLS_WIDTH, 48))),
            ("_end", img.crop((img.width - CLS_WIDTH, 0, img.width, 48)))]


def sources_md():
    import make_blazeface_cases as blazeface
    sk_wheel = blazeface.SKIMAGE_WHEEL
    lines = [
        "# Sources of the PP-OCR cases",
        "",
        "Generated by `python3 tools/make_ppocr_cases.py` (check with `--check`); every input is",
        "pinned by version and sha256 in that script.",
        "",
        "| cases | package | file | sha256 | licence |",
        "|---|---|---|---|---|",
        f"| line_*, parity_region, parity_histogram | PyPI scikit-image 0.26.0 (`{sk_wheel}`) "
        "| skimage/data/page.png | (wheel pinned in tools/make_blazeface_cases.py) "
        "| scikit-image data, see models/blazeface/SOURCE.md |",
        f"| unseen_crom | PyPI ocrmypdf {OCRMYPDF_VERSION} (sdist `{OCRMYPDF_SDIST}`, "
        f"sha256 {OCRMYPDF_SHA256}) | tests/resources/crom.png, cropped to its line "
        f"| {OCRMYPDF_FILES['crom.png']} | CC-BY-SA-4.0, (C) 2023 James R. Barlow (.reuse/dep5) |",
        f"| {', '.join(c for c, _, _ in LINN_LINES)} | PyPI ocrmypdf {OCRMYPDF_VERSION} (same sdist) "
        f"| tests/resources/linn.png, cropped | {OCRMYPDF_FILES['linn.png']} "
        "| GFDL-1.2-or-later or CC-BY-SA-3.0, (C) 1985 Forat Electronics (.reuse/dep5) |",
        "| rendered_*, parity_rendered | PyPI pillow 13.0.0 (tools/requirements-ppocr.txt) "
        "| Aileron Regular embedded in PIL/ImageFont.py (`load_default`) | (wheel hash pinned) "
        "| Aileron by dot colon (dotcolon.net, CC0), in Pillow (MIT-CMU); text written here |",
        "",
        "The unseen lines are text this project did not make: crom.png is a synthetic line",
        "rendered by OCRmyPDF's author for its tests; linn.png is a 300 dpi scan of a printed",
        "1985 brochure. Crop boxes (x0, y0, x1, y1 in linn.png pixels) and transcriptions:",
        "",
    ]
    lines += [f"- {c}: {list(box)}: \"{text}\"" for c, box, text in LINN_LINES]
    lines += [f"- unseen_crom: its ink box padded by 3 px across and 2 px down: \"{CROM_TEXT}\"", ""]
    return "\n".join(lines)


def generate(out_root, workdir):
    from PIL import Image
    det, cls, rec, pipe, orient, layout = (os.path.join(out_root, k, "cases") for k in KINDS)
    for d in (det, cls, rec, pipe):
        os.makedirs(d, exist_ok=True)
    sk = skimage_files(workdir)
    ocrmypdf = fetch_ocrmypdf(workdir)
    page = open_png(sk["page.png"])
    ink = page_ink(page)
    boxes = line_boxes(ink)
    if len(boxes) != len(PAGE_LINES):
        sys.exit(f"error: found {len(boxes)} lines on page.png, expected {len(PAGE_LINES)}")

    # Detection: the page, crops of it, unseen text; text-free photos and crops.
    det_labels = {}

    def det_case(case, img_or_data, line_boxes_):
        name = f"{case}.png"
        write_image(os.path.join(det, name), img_or_data)
        det_labels[case] = {"image": name, "objects": len(line_boxes_), "boxes": line_boxes_}

    det_case("page", sk["page.png"], boxes)
    for case, crop in PAGE_CROPS.items():
        det_case(case, page.crop(crop), crop_boxes(boxes, crop))
    crom = open_png(ocrmypdf["crom.png"])
    det_case("unseen_crom", ocrmypdf["crom.png"], line_boxes(clean_ink(crom)))
    linn = open_png(ocrmypdf["linn.png"]).convert("L")
    block = linn.crop(LINN_BLOCK)
    block = block.resize((block.width * 2 // 5, block.height * 2 // 5), Image.LANCZOS)
    det_case("unseen_linn", block, line_boxes(clean_ink(block)))
    for name in NEGATIVES:
        det_case(name[:-4], sk[name], [])
    for case, (name, crop) in NEGATIVE_CROPS.items():
        det_case(case, open_png(sk[name]).crop(crop), [])
    write_json(os.path.join(det, "labels.json"), det_labels)

    # Recognition: every line of the page, rendered lines, unseen lines; parity words at 48.
    rec_labels = {}

    def rec_case(case, img, text):
        save(img, os.path.join(rec, f"{case}.png"))
        rec_labels[case] = {"image": f"{case}.png", "text": text}

    gray = page.convert("L")
    lines = []
    for i, (box, text) in enumerate(zip(boxes, PAGE_LINES)):
        crop = gray.crop(pad_box(box, gray.width, gray.height))
        lines.append((f"line_{i:02}", crop))
        rec_case(f"line_{i:02}", crop, text)
    for case, line, first, last, text in PARITY_WORDS:
        spans = words(ink, boxes[line])
        word_box = [spans[first][0], boxes[line][1], spans[last][1], boxes[line][3]]
        img = to_height(gray.crop(pad_box(word_box, gray.width, gray.height)))
        if img.width > 320:
            sys.exit(f"error: {case} is {img.width} wide at height 48, over 320")
        rec_case(case, img, text)
    rendered = [(f"rendered_{i:02}", render(t)) for i, t in enumerate(RENDERED)]
    for (case, img), text in zip(rendered, RENDERED):
        rec_case(case, img, text)
    rec_case("parity_rendered", render(RENDERED[1]), RENDERED[1])
    crom_box = line_boxes(clean_ink(crom))[0]
    rec_case("unseen_crom", crom.crop(pad_box(crom_box, crom.width, crom.height)), CROM_TEXT)
    for case, box, text in LINN_LINES:
        rec_case(case, linn.crop(box), text)
    write_json(os.path.join(rec, "labels.json"), rec_labels)
    with open(os.path.join(rec, "SOURCES.md"), "w") as f:
        f.write(sources_md())

    # Direction: the same lines at the classifier's geometry (height 48, at most 192 wide),
    # upright ("0") and turned upside down ("180"); every case needs no resampling.
    cls_labels = {}

    def cls_case(case, img, label):
        save(img, os.path.join(cls, f"{case}.png"))
        cls_labels[case] = {"image": f"{case}.png", "label": label}

    for base, img in lines + rendered:
        for suffix, window in cls_windows(img):
            cls_case(base + suffix, window, "0")
            cls_case(base + suffix + "_180", window.rotate(180), "180")
    short = render("ARM 42")
    cls_case("parity_upright", short, "0")
    cls_case("parity_180", short.rotate(180), "180")
    write_json(os.path.join(cls, "labels.json"), cls_labels)

    # Pipeline: whole images and the text they hold, line by line (empty: no text).
    pipe_labels = {}

    def pipe_case(case, img_or_data, text):
        name = f"{case}.png"
        write_image(os.path.join(pipe, name), img_or_data)
        pipe_labels[case] = {"image": name, "text": text}

    pipe_case("page", sk["page.png"], "\n".join(PAGE_LINES))
    pipe_case("page-upside-down", page.transpose(Image.ROTATE_180), "\n".join(PAGE_LINES))
    for case, box, text in LINN_BLOCKS:
        pipe_case(case, linn.crop(box), text)
    pipe_case("crom", ocrmypdf["crom.png"], CROM_TEXT)
    for name in NEGATIVES:
        pipe_case(name[:-4], sk[name], "")
    write_json(os.path.join(pipe, "labels.json"), pipe_labels)

    # Document orientation: whole scans turned four ways (tools/orientation_cases.py).
    import orientation_cases
    orientation_cases.generate(orient, page, open_png(ocrmypdf["linn.png"]),
                               open_png(ocrmypdf["typewriter.png"]), save, write_json)

    # Layout: the brochure page at the detector's geometry, and photos (tools/layout_cases.py).
    import layout_cases
    layout_cases.generate(layout, open_png(ocrmypdf["linn.png"]), sk, save, write_image,
                          write_json)


# Folders of these cases that other scripts make (tools/make_ocr_lines.py,
# tools/make_ocr_photos.py): left alone.
ELSEWHERE = {"lines", "photos"}


def tree(d):
    out = {}
    for base, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if not (base == d and x in ELSEWHERE)]
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, d)] = sha256(f.read())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed cases")
    args = parser.parse_args()
    in_venv(__file__)
    models = os.path.join(ROOT, "models")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out") if args.check else models
        if not args.check:
            for k in KINDS:
                cases = os.path.join(models, k, "cases")
                for name in os.listdir(cases) if os.path.isdir(cases) else []:
                    if name not in ELSEWHERE:
                        path = os.path.join(cases, name)
                        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        generate(out, tmp)
        if args.check:
            bad = []
            for k in KINDS:
                want, have = tree(os.path.join(out, k, "cases")), tree(os.path.join(models, k, "cases"))
                bad += [f"{k}/cases/{n}" for n in sorted(set(want) | set(have))
                        if want.get(n) != have.get(n)]
            if bad:
                sys.exit("error: cases differ from their sources: " + ", ".join(bad))
            print("PP-OCR cases match their sources")
        else:
            for k in KINDS:
                print(f"{k}: {len(tree(os.path.join(models, k, 'cases')))} files")


if __name__ == "__main__":
    main()
