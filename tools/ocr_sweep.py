#!/usr/bin/env python3
"""Sweeps the OCR pipeline's detector and crop parameters on the fit part of its lines.

    python3 tools/ocr_sweep.py [--preflight target/release/preflight] [--part fit]
        [--side 384,512,640] [--unclip 1.1,1.5] [--box-threshold 0.5] [--min-confidence 0.5]
        [--rec-filter bilinear,bicubic,lanczos3] [--margin 0,0.2] [--cases lines|photos]

Every combination of the values given is assembled as a pipeline of its own in a temporary
folder (copies of models/ppocr and its stage bundles, without their cases, with the detector's
longer side and box threshold, the recogniser's resampling filter and the pipeline's crop
growth, margin and confidence floor replaced) and reads the lines of the chosen part of the acceptance suite's
split (tools/ocr_vs_rapidocr.py's comparison, RapidOCR's readings cached). One row per
combination: the character error rate, the share of images where the pipeline makes no more
errors than RapidOCR 1.4.4, the seconds the readings took, and the worst character error rate
over the boot suite's pages (the scanned page upright and upside down, the other scans): the
boot gate's constraint, which a combination must still meet (page-read ≤ 0.05).

Sweep on `--part fit` (the default) and choose there; report the chosen values on
`held-apart` once, with tools/ocr_vs_rapidocr.py on the shipped pipeline.
"""
import argparse
import itertools
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_ppocr_cases as ppocr  # noqa: E402  (its venv helper)
import ocr_vs_rapidocr as versus  # noqa: E402  (the comparison)


def floats(text):
    return [float(v) for v in text.split(",")]


def replace(text, pattern, value, path):
    out, n = re.subn(pattern, value, text, count=1, flags=re.M)
    if n != 1:
        sys.exit(f"error: {path}: no line matches {pattern!r}")
    return out


def assemble(work, side, unclip, box, floor, rec_filter, margin):
    """A pipeline folder in `work` with these parameters; returns its path."""
    det = os.path.join(work, "ppocr-det")
    pipe = os.path.join(work, "ppocr")
    for stage in ("ppocr-det", "ppocr-cls", "ppocr-rec"):
        shutil.copytree(os.path.join(ROOT, "models", stage), os.path.join(work, stage),
                        ignore=shutil.ignore_patterns("cases"))
    shutil.copytree(os.path.join(ROOT, "models", "ppocr"), pipe,
                    ignore=shutil.ignore_patterns("cases"))
    path = os.path.join(det, "bundle.toml")
    text = open(path).read()
    text = replace(text, r"^shape = \[1, 3, \d+, \d+\]", f"shape = [1, 3, {side}, {side}]", path)
    text = replace(text, r"^box_threshold = .*$", f"box_threshold = {box}", path)
    open(path, "w").write(text)
    path = os.path.join(work, "ppocr-rec", "bundle.toml")
    text = open(path).read()
    text = re.sub(r"^filter = .*\n", "", text, flags=re.M)
    text = replace(text, r"^resize = (.*)$", f'resize = \\1\nfilter = "{rec_filter}"', path)
    open(path, "w").write(text)
    path = os.path.join(pipe, "pipeline.toml")
    text = open(path).read()
    text = replace(text, r"^unclip_ratio = .*$", f"unclip_ratio = {unclip}", path)
    text = replace(text, r"^min_confidence = .*$", f"min_confidence = {floor}", path)
    text = re.sub(r"^margin = .*\n", "", text, flags=re.M)
    text = replace(text, r"^\[lines\]$", f"[lines]\nmargin = {margin}", path)
    open(path, "w").write(text)
    return pipe


def boot_pages():
    """The boot suite's cases with text (the scanned page, upside down, and others): a
    combination that no longer reads them would fail the boot gate."""
    suite = tomllib.load(open(os.path.join(ROOT, "models", "ppocr", "suite.toml"), "rb"))
    return [(c["id"], os.path.join(ROOT, "models", "ppocr", c["image"]), c["text"])
            for c in suite["cases"] if c.get("text")]


def page_errors(binary, pipe, pages):
    """The worst character error rate over `pages`, and the id it belongs to."""
    read = versus.preflight_read(binary, [p for _, p, _ in pages], pipe)
    rates = [(versus.distance(versus.norm(r), versus.norm(t)) / len(versus.norm(t)), i)
             for (i, _, t), r in zip(pages, read)]
    return max(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preflight", default=os.path.join(ROOT, "target", "release", "preflight"))
    ap.add_argument("--part", default="fit", choices=["fit", "held-apart", "all"])
    ap.add_argument("--side", type=floats, default=[384], help="detector's longer side(s)")
    ap.add_argument("--unclip", type=floats, default=[1.1], help="crop growth(s)")
    ap.add_argument("--margin", type=floats, default=[0.0],
                    help="crop margin(s), shares of the line height")
    ap.add_argument("--box-threshold", type=floats, default=[0.5])
    ap.add_argument("--min-confidence", type=floats, default=[0.5])
    ap.add_argument("--rec-filter", type=lambda t: t.split(","), default=["bilinear"],
                    help="the recogniser's resampling filter(s)")
    ap.add_argument("--limit", type=int, help="only the first N images of the part")
    ap.add_argument("--cases", default="lines", choices=sorted(versus.SETS),
                    help="rendered lines, or real photos and scans of text")
    args = ap.parse_args()
    binary = os.path.abspath(args.preflight)
    if not os.access(binary, os.X_OK):
        sys.exit(f"error: {binary}: no preflight binary there (cargo build --release, or --preflight)")
    ppocr.in_venv(__file__, versus.REQUIREMENTS, "venv-rapidocr")
    ids, labels = versus.line_ids(args.part, args.limit, args.cases)
    pages = boot_pages()
    print(f"{args.cases}, {args.part}: {len(ids)} images")
    print(f"{'side':>5} {'unclip':>6} {'box':>5} {'floor':>5} {'rec filter':>10} {'margin':>6} {'CER':>7} "
          f"{'RapidOCR':>8} {'no worse':>9} {'seconds':>7}  worst boot page")
    grid = itertools.product(args.side, args.unclip, args.box_threshold, args.min_confidence,
                             args.rec_filter, args.margin)
    for side, unclip, box, floor, rec_filter, margin in grid:
        side = int(side)
        with tempfile.TemporaryDirectory() as work:
            pipe = assemble(work, side, unclip, box, floor, rec_filter, margin)
            start = time.monotonic()
            rows = versus.compare(binary, ids, labels, pipe, args.cases)
            seconds = time.monotonic() - start
            worst, worst_id = page_errors(binary, pipe, pages)
        chars, mine, theirs, no_worse = versus.totals(rows)
        print(f"{side:5} {unclip:6.2f} {box:5.2f} {floor:5.2f} {rec_filter:>10} {margin:6.2f} "
              f"{mine / chars:7.4f} "
              f"{theirs / chars:8.4f} {100 * no_worse / len(rows):8.1f}% {seconds:7.1f}  "
              f"{worst:.3f} {worst_id}",
              flush=True)


if __name__ == "__main__":
    main()
