#!/usr/bin/env python3
"""Render the OCR pipeline's text lines (models/ppocr/cases/lines/) from pinned sources.

    python3 tools/make_ocr_lines.py                        # writes the lines and lines.json
    python3 tools/make_ocr_lines.py --check [--downloads D] # fails if the committed lines differ
    python3 tools/make_ocr_lines.py --cases                # prints them as suite cases

320 single-line images, each a line of text this project never tuned on, in several fonts,
sizes, margins, colours and backgrounds, some slightly turned, blurred or noisy as a camera
would leave them. Every choice comes from a seeded generator per line, so the images are byte
for byte reproducible with the pinned Pillow (venv-ppocr, tools/requirements-ppocr.txt).

Sources:
  * Fonts from PyPI matplotlib==3.11.2 (mpl-data/fonts/ttf; the same pinned wheel as
    tools/make_blazeface_frames.py): DejaVu Sans, Sans Bold, Serif, Serif Italic, Sans Mono
    (Bitstream Vera licence, public-domain changes) and STIX General (SIL OFL 1.1); and
    Aileron Regular, embedded in Pillow 13.0.0 (SIL OFL 1.1).
  * Words from this repository's LICENSE (the Apache License 2.0 text), cut into phrases of
    2-8 words, and codes, dates, prices and times drawn by the generator (a sign, a label, a
    receipt).

The split (tools: src/suite/split.rs) is applied by the suite, by each line's id.
"""
import argparse
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper)
import make_blazeface_frames as frames  # noqa: E402  (the pinned matplotlib wheel)

OUT = os.path.join(ROOT, "models", "ppocr", "cases", "lines")
LINES = 320
SEED = 31
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
         "DejaVuSansMono.ttf", "STIXGeneral.ttf"]
# (ink, paper) pairs: print on white, grey on grey, a coloured label, a dark sign.
COLOURS = [((0, 0, 0), (255, 255, 255)), ((40, 40, 40), (200, 200, 200)),
           ((20, 30, 110), (250, 240, 210)), ((255, 255, 255), (30, 30, 30)),
           ((120, 20, 20), (235, 235, 235)), ((250, 220, 60), (20, 60, 30))]
SIZES = [16, 20, 24, 30, 38, 48]


def matplotlib_fonts(workdir):
    spec = next(w for w in frames.SOURCES if w[0].startswith("matplotlib=="))
    path = frames.download(spec[0], spec[1], spec[2], workdir)
    with zipfile.ZipFile(path) as z:
        return {f: z.read(f"matplotlib/mpl-data/fonts/ttf/{f}") for f in FONTS}


def phrases():
    with open(os.path.join(ROOT, "LICENSE")) as f:
        # Words as printed, punctuation attached; URLs and rules of dashes left out.
        return [w for w in f.read().split() if re.search(r"[A-Za-z0-9]", w) and "/" not in w]


def text_for(rng, words):
    kind = rng.random()
    while kind < 0.7:
        n = rng.randint(2, 8)
        start = rng.randrange(0, len(words) - n)
        text = " ".join(words[start:start + n])
        if "www" not in text and len(text) > 2:
            return text
    if kind < 0.8:
        return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1990, 2035)}"
    if kind < 0.9:
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(2, 3)))
        return f"{letters}-{rng.randint(100, 99999)}"
    price = f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
    return rng.choice([f"TOTAL {price}", f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
                       f"No. {rng.randint(1, 500)}", f"EUR {price}"])


def render(rng, text, fonts):
    from PIL import Image, ImageDraw, ImageFilter, ImageFont
    size = rng.choice(SIZES)
    which = rng.randrange(len(FONTS) + 1)
    if which == len(FONTS):
        font, name = ImageFont.load_default(size), "Aileron"
    else:
        font, name = ImageFont.truetype(io.BytesIO(fonts[FONTS[which]]), size), FONTS[which][:-4]
    ink, paper = rng.choice(COLOURS)
    left, top, right, bottom = font.getbbox(text)
    mx, my = rng.randint(size // 4, 2 * size), rng.randint(size // 5, size)
    img = Image.new("RGB", (right - left + 2 * mx, bottom - top + 2 * my), paper)
    ImageDraw.Draw(img).text((mx - left, my - top), text, fill=ink, font=font)
    effects = []
    if rng.random() < 0.25:
        angle = rng.uniform(-4.0, 4.0)
        img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=paper)
        effects.append(f"turned {angle:.1f}")
    if rng.random() < 0.2:
        radius = rng.choice([0.6, 1.0])
        img = img.filter(ImageFilter.GaussianBlur(radius))
        effects.append(f"blur {radius}")
    if rng.random() < 0.2:
        import numpy as np
        sigma = rng.choice([6.0, 12.0])
        noise = np.random.default_rng(rng.randrange(1 << 31)).normal(0, sigma, (img.height, img.width, 1))
        arr = np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
        effects.append(f"noise {sigma:.0f}")
    return img, {"font": name, "size": size, "effects": effects}


def generate(out, workdir):
    fonts = matplotlib_fonts(workdir)
    words = phrases()
    os.makedirs(out, exist_ok=True)
    labels = {}
    for i in range(LINES):
        rng = random.Random(SEED * 100003 + i)
        text = text_for(rng, words)
        img, how = render(rng, text, fonts)
        case_id = f"line_{i:03d}"  # no "-NNN" tail: that names a clip's frame to the split
        ppocr.save(img, os.path.join(out, case_id + ".png"))
        labels[case_id] = {"text": text, **how}
    ppocr.write_json(os.path.join(out, "lines.json"), labels)


def cases_toml():
    with open(os.path.join(OUT, "lines.json")) as f:
        labels = json.load(f)
    out = []
    for case_id, label in labels.items():
        tags = ["line", "font-" + label["font"].lower()]
        tags += [{"turned": "turned", "blur": "blurred", "noise": "noisy"}[e.split()[0]]
                 for e in label["effects"]]
        out.append(f'[[cases]]\nid = "{case_id}"\nimage = "cases/lines/{case_id}.png"\n'
                   f"text = {json.dumps(label['text'])}\nobjects = 1\n"
                   f"tags = {json.dumps(tags)}\n")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed lines")
    parser.add_argument("--cases", action="store_true", help="print the lines as suite cases")
    parser.add_argument("--downloads", help="a folder to keep the downloads in (default: temporary)")
    args = parser.parse_args()
    ppocr.in_venv(__file__)
    if args.cases:
        sys.stdout.write(cases_toml())
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.downloads or tmp
        os.makedirs(workdir, exist_ok=True)
        if args.check:
            made = os.path.join(tmp, "lines")
            generate(made, workdir)
            want, have = frames.tree(made), frames.tree(OUT)
            bad = [n for n in sorted(set(want) | set(have)) if want.get(n) != have.get(n)]
            if bad:
                sys.exit("error: OCR lines differ from their sources: " + ", ".join(bad[:10]))
            print(f"OCR lines match their sources ({len(want) - 1} lines)")
        else:
            shutil.rmtree(OUT, ignore_errors=True)
            generate(OUT, workdir)
            print(f"{len(frames.tree(OUT)) - 1} lines in {OUT}")


if __name__ == "__main__":
    main()
