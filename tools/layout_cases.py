"""Cases of models/doc-layout, written by tools/make_ppocr_cases.py (which fetches the pinned
sources): OCRmyPDF's linn.png (a 1985 brochure page, 2550 x 3300 at 300 dpi) brought to the
detector's own geometry, 608 x 800, so preflight and the references see the same pixels; and
three scikit-image photos.

Labels are the page's headings: for each, a window chosen by eye around the heading alone,
shrunk to the ink inside it (pixels darker than 128), in the 608 x 800 image's pixels.
"""
import os

# (heading, window x0, y0, x1, y1) in the 608 x 800 page.
HEADINGS = [
    ("The LinnSequencer / 32 Track MIDI Sequence Recorder", (130, 25, 480, 80)),
    ("Recording a Sequence", (80, 308, 200, 325)),
    ("Creating a Song", (305, 394, 420, 408)),
    ("Editing", (80, 480, 130, 497)),
    ("Composition Without Compromise", (305, 480, 470, 497)),
    ("Additional Features", (80, 550, 175, 567)),
]
PHOTOS = ["chelsea.png", "coffee.png", "camera.png"]


def ink_box(gray, window):
    x0, y0, x1, y1 = window
    xs, ys = [], []
    for y in range(y0, y1):
        for x in range(x0, x1):
            if gray.getpixel((x, y)) < 128:
                xs.append(x)
                ys.append(y)
    if not xs:
        raise SystemExit(f"error: no ink in window {window}")
    return [min(xs), min(ys), max(xs) + 1, max(ys) + 1]


def generate(out, linn, skimage, save, write_image, write_json):
    from PIL import Image
    os.makedirs(out, exist_ok=True)
    page = linn.convert("RGB").resize((608, 800), Image.LANCZOS)
    save(page, os.path.join(out, "brochure.png"))
    gray = page.convert("L")
    labels = {"brochure": {"image": "brochure.png",
                           "headings": [h for h, _ in HEADINGS],
                           "boxes": [ink_box(gray, w) for _, w in HEADINGS]}}
    for name in PHOTOS:
        write_image(os.path.join(out, name), skimage[name])
        labels[name[:-4]] = {"image": name, "objects": 1}
    write_json(os.path.join(out, "labels.json"), labels)
