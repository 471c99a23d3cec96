#!/usr/bin/env python3
"""The OCR pipeline (models/ppocr) beside RapidOCR 1.4.4 on text it never tuned on, image by image.

    python3 tools/ocr_vs_rapidocr.py [--preflight target/release/preflight] [--part held-apart]
                                     [--pipeline models/ppocr] [--cases lines|photos]
                                     [--limit N] [--json]

For every line of models/ppocr/cases/lines (tools/make_ocr_lines.py; with `--cases photos`,
every real photo or scan of models/ppocr/cases/photos, tools/make_ocr_photos.py) in the chosen part of the
acceptance suite's split (src/suite/split.rs's rule, seed and share from
models/ppocr/suite-full.toml), both readers read the image: preflight through `preflight run
models/ppocr --format json`, RapidOCR through its Python API with one thread per session
(onnxruntime's intra- and inter-op pools at 1), its default configuration otherwise. Each
reading is compared with the label as a character error rate: edit distance over the label's
length, both sides with white space collapsed (a line split into pieces is joined by spaces).

Prints one row per image (both CERs, which is worse) and the totals, for the upright lines,
the turned ones (by up to 4°) and all: characters wrong over characters labelled, and the share
of images where the pipeline makes no more errors than RapidOCR. `--json` prints the rows for a machine.

RapidOCR and its dependencies are installed from PyPI by pinned sha256
(tools/requirements-rapidocr.txt) into venv-rapidocr beside the model cache; its readings are
kept there too (readings.json, by image sha256). tools/ocr_sweep.py uses the same comparison.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper)
import split  # noqa: E402  (the suites' split rule, as src/suite/split.rs)

REQUIREMENTS = os.path.join(ROOT, "tools", "requirements-rapidocr.txt")
CASES = os.path.join(ROOT, "models", "ppocr", "cases")
# The case sets: rendered lines (tools/make_ocr_lines.py) and real photos and scans of text
# (tools/make_ocr_photos.py), each a folder of PNGs with their labels.
SETS = {"lines": ("lines", "lines.json"), "photos": ("photos", "photos.json")}
SUITE = os.path.join(ROOT, "models", "ppocr", "suite-full.toml")
PIPELINE = os.path.join(ROOT, "models", "ppocr")


def split_of_suite():
    import re
    text = open(SUITE).read()
    m = re.search(r"split\s*=\s*\{\s*seed\s*=\s*(\d+)\s*,\s*held_apart\s*=\s*([0-9.]+)\s*\}", text)
    if not m:
        sys.exit(f"error: {SUITE}: no split = {{ seed, held_apart }}")
    return int(m.group(1)), float(m.group(2))


def distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def norm(text):
    return " ".join(text.split())


def preflight_read(binary, paths, pipeline=PIPELINE):
    run = subprocess.run([binary, "run", pipeline, *paths, "--format", "json"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"error: preflight run {pipeline} exited {run.returncode}: "
                 f"{run.stderr.strip()[:500]}")
    out = run.stdout
    return [" ".join(line["text"] for line in r["lines"]) for r in json.loads(out)["results"]]


def rapidocr_read(paths):
    """RapidOCR's reading of each image, kept beside its venv by the image's sha256 (a sweep
    compares against the same readings many times)."""
    store = os.path.join(ppocr.venv_dir("venv-rapidocr"), "readings.json")
    known = json.load(open(store)) if os.path.exists(store) else {}
    keys = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths]
    engine = None
    for key, path in zip(keys, paths):
        if key in known:
            continue
        if engine is None:
            from rapidocr_onnxruntime import RapidOCR
            engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
        result, _ = engine(path)
        # In RapidOCR's own reading order (its boxes come sorted top to bottom, then left to
        # right within a row).
        known[key] = " ".join(r[1] for r in result) if result else ""
    if engine is not None:
        with open(store + ".tmp", "w") as f:
            json.dump(known, f)
        os.replace(store + ".tmp", store)
    return [known[k] for k in keys]


def line_ids(which, limit=None, cases="lines"):
    """The ids of the images of set `cases` in part `which` ("fit", "held-apart" or "all") of
    the suite's split, and the set's labels."""
    seed, share = split_of_suite()
    folder, name = SETS[cases]
    labels = json.load(open(os.path.join(CASES, folder, name)))
    ids = [i for i in labels if which == "all" or split.part(i, seed, share) == which]
    return (ids[:limit] if limit else ids), labels


def compare(binary, ids, labels, pipeline=PIPELINE, cases="lines"):
    """One row per image: both readings and their errors against the label."""
    paths = [os.path.join(CASES, SETS[cases][0], i + ".png") for i in ids]
    ours = preflight_read(binary, paths, pipeline)
    theirs = rapidocr_read(paths)
    rows = []
    for case_id, mine, other in zip(ids, ours, theirs):
        truth, mine, other = norm(labels[case_id]["text"]), norm(mine), norm(other)
        record = labels[case_id]
        turned = any(e.startswith("turned") for e in record.get("effects", [])) or (
            "turned" in record.get("tags", []))
        rows.append({"id": case_id, "label": truth, "preflight": mine, "rapidocr": other,
                     "turned": turned,
                     "errors_preflight": distance(mine, truth),
                     "errors_rapidocr": distance(other, truth), "chars": len(truth)})
    return rows


def totals(rows):
    """(characters, preflight's errors, RapidOCR's errors, images where preflight is no worse)."""
    return (sum(r["chars"] for r in rows), sum(r["errors_preflight"] for r in rows),
            sum(r["errors_rapidocr"] for r in rows),
            sum(r["errors_preflight"] <= r["errors_rapidocr"] for r in rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preflight", default=os.path.join(ROOT, "target", "release", "preflight"))
    ap.add_argument("--pipeline", default=PIPELINE, help="the pipeline to read with")
    ap.add_argument("--cases", default="lines", choices=sorted(SETS),
                    help="rendered lines, or real photos and scans of text")
    ap.add_argument("--part", default="held-apart", choices=["fit", "held-apart", "all"])
    ap.add_argument("--limit", type=int, help="only the first N lines of the part")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    binary = os.path.abspath(args.preflight)
    if not os.access(binary, os.X_OK):
        sys.exit(f"error: {binary}: no preflight binary there (cargo build --release, or --preflight)")
    ppocr.in_venv(__file__, REQUIREMENTS, "venv-rapidocr")
    ids, labels = line_ids(args.part, args.limit, args.cases)
    rows = compare(binary, ids, labels, os.path.abspath(args.pipeline), args.cases)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        return
    print(f"{'image':10} {'chars':>5} {'preflight':>9} {'rapidocr':>9}  worse")
    for r in rows:
        worse = "preflight" if r["errors_preflight"] > r["errors_rapidocr"] else (
            "rapidocr" if r["errors_rapidocr"] > r["errors_preflight"] else "")
        print(f"{r['id']:10} {r['chars']:5} {r['errors_preflight'] / r['chars']:9.3f} "
              f"{r['errors_rapidocr'] / r['chars']:9.3f}  {worse}")
        if worse:
            print(f"{'':10} label {r['label']!r}\n{'':10} ours  {r['preflight']!r}\n"
                  f"{'':10} rapid {r['rapidocr']!r}")
    for name, group in (("upright", [r for r in rows if not r["turned"]]),
                        ("turned", [r for r in rows if r["turned"]])):
        if group:
            c, m, t, n = totals(group)
            print(f"{name}: {len(group)} images, CER preflight {m / c:.4f}, RapidOCR {t / c:.4f}; "
                  f"preflight no worse on {n}/{len(group)} ({100 * n / len(group):.0f} %)")
    chars, mine, theirs, no_worse = totals(rows)
    print(f"\n{args.part}: {len(rows)} images, {chars} characters; CER preflight {mine / chars:.4f} "
          f"({mine}), RapidOCR {theirs / chars:.4f} ({theirs}); preflight no worse on "
          f"{no_worse}/{len(rows)} images ({100 * no_worse / len(rows):.0f} %)")


if __name__ == "__main__":
    main()
