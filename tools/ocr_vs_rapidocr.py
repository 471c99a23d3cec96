#!/usr/bin/env python3
"""The OCR pipeline (models/ppocr) beside RapidOCR 1.4.4 on text it never tuned on, image by image.

    python3 tools/ocr_vs_rapidocr.py [--preflight target/release/preflight] [--part held-apart]
                                     [--limit N] [--json]

For every line of models/ppocr/cases/lines (tools/make_ocr_lines.py) in the chosen part of the
acceptance suite's split (src/suite/split.rs's rule, seed and share from
models/ppocr/suite-full.toml), both readers read the image: preflight through `preflight run
models/ppocr --format json`, RapidOCR through its Python API with one thread per session
(onnxruntime's intra- and inter-op pools at 1), its default configuration otherwise. Each
reading is compared with the label as a character error rate: edit distance over the label's
length, both sides with white space collapsed (a line split into pieces is joined by spaces).

Prints one row per image (both CERs, which is worse) and the totals: characters wrong over
characters labelled, and the share of images where the pipeline makes no more errors than
RapidOCR. `--json` prints the rows for a machine.

RapidOCR and its dependencies are installed from PyPI by pinned sha256
(tools/requirements-rapidocr.txt) into venv-rapidocr beside the model cache.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import envelope_transfer  # noqa: E402  (the split rule, as src/suite/split.rs)
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper)

REQUIREMENTS = os.path.join(ROOT, "tools", "requirements-rapidocr.txt")
LINES = os.path.join(ROOT, "models", "ppocr", "cases", "lines")
SUITE = os.path.join(ROOT, "models", "ppocr", "suite-full.toml")


def split_of_suite():
    import re
    text = open(SUITE).read()
    m = re.search(r"split\s*=\s*\{\s*seed\s*=\s*(\d+)\s*,\s*held_apart\s*=\s*([0-9.]+)\s*\}", text)
    if not m:
        sys.exit(f"error: {SUITE}: no split = {{ seed, held_apart }}")
    return int(m.group(1)), float(m.group(2))


def part(case_id, seed, share):
    envelope_transfer.SPLIT_SEED, envelope_transfer.HELD_APART = seed, share
    return envelope_transfer.part(case_id)


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


def preflight_read(binary, paths):
    out = subprocess.run([binary, "run", os.path.join(ROOT, "models", "ppocr"), *paths,
                          "--format", "json"], check=True, capture_output=True, text=True).stdout
    return [" ".join(line["text"] for line in r["lines"]) for r in json.loads(out)["results"]]


def rapidocr_reader():
    from rapidocr_onnxruntime import RapidOCR
    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(path):
        result, _ = engine(path)
        if not result:
            return ""
        # In RapidOCR's own reading order (its boxes come sorted top to bottom, then left to
        # right within a row).
        return " ".join(r[1] for r in result)
    return read


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preflight", default=os.path.join(ROOT, "target", "release", "preflight"))
    ap.add_argument("--part", default="held-apart", choices=["fit", "held-apart", "all"])
    ap.add_argument("--limit", type=int, help="only the first N lines of the part")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    binary = os.path.abspath(args.preflight)
    if not os.access(binary, os.X_OK):
        sys.exit(f"error: {binary}: no preflight binary there (cargo build --release, or --preflight)")
    ppocr.in_venv(__file__, REQUIREMENTS, "venv-rapidocr")
    seed, share = split_of_suite()
    labels = json.load(open(os.path.join(LINES, "lines.json")))
    ids = [i for i in labels if args.part == "all" or part(i, seed, share) == args.part]
    ids = ids[:args.limit] if args.limit else ids
    paths = [os.path.join(LINES, i + ".png") for i in ids]
    ours = preflight_read(binary, paths)
    read = rapidocr_reader()
    rows = []
    for case_id, path, mine in zip(ids, paths, ours):
        truth = norm(labels[case_id]["text"])
        theirs = norm(read(path))
        mine = norm(mine)
        rows.append({"id": case_id, "label": truth, "preflight": mine, "rapidocr": theirs,
                     "errors_preflight": distance(mine, truth),
                     "errors_rapidocr": distance(theirs, truth), "chars": len(truth)})
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
    chars = sum(r["chars"] for r in rows)
    mine = sum(r["errors_preflight"] for r in rows)
    theirs = sum(r["errors_rapidocr"] for r in rows)
    no_worse = sum(r["errors_preflight"] <= r["errors_rapidocr"] for r in rows)
    print(f"\n{args.part}: {len(rows)} images, {chars} characters; CER preflight {mine / chars:.4f} "
          f"({mine}), RapidOCR {theirs / chars:.4f} ({theirs}); preflight no worse on "
          f"{no_worse}/{len(rows)} images ({100 * no_worse / len(rows):.0f} %)")


if __name__ == "__main__":
    main()
