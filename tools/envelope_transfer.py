#!/usr/bin/env python3
"""How well a bundle's envelope flags the frames whose decisions a camera fault changed.

For every real frame of BlazeFace's acceptance suite (models/blazeface/cases/frames), each
camera fault at each severity is applied to the frame at its own resolution (`preflight
perturb`, as `at = "frame"` does), the frame is run (`preflight run`), and:

  * broken: the decisions differ from the clean frame's (another number of faces, or a face
    with no match at IoU >= 0.5 among the clean frame's);
  * flagged: the envelope says the frame is outside (`envelope.inside` false).

A good envelope flags >= 90 % of broken frames and <= 5 % of the others (clean frames
included). Prints, per fault and per part of the suite's split (fit / held-apart, the same
rule as src/suite/split.rs), broken and flagged counts; `--json` for a machine.

    python3 tools/envelope_transfer.py [--preflight target/release/preflight] [--json]

Standard library only; uses the preflight binary for everything it measures.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import split  # noqa: E402  (the suites' split rule)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLE = os.path.join(ROOT, "models", "blazeface")
FRAMES = os.path.join(BUNDLE, "cases", "frames")
FAULTS = ["contrast", "gaussian_blur", "defocus_blur", "motion_blur", "gaussian_noise",
          "low_light"]
SPLIT_SEED, HELD_APART = 34, 0.5


def part(case_id):
    """This tool's split: the BlazeFace acceptance suite's seed and share (tools/split.py)."""
    return split.part(case_id, SPLIT_SEED, HELD_APART)


def iou(a, b):
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_decisions(clean, other):
    if len(clean) != len(other):
        return False
    left = list(other)
    for c in clean:
        match = next((o for o in left if iou(c, o) >= 0.5), None)
        if match is None:
            return False
        left.remove(match)
    return True


def run(preflight, images):
    out = subprocess.run([preflight, "run", BUNDLE, *images, "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    results = json.loads(out)["results"]
    return [([d["box"] for d in r["detections"]], not r["envelope"]["inside"]) for r in results]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preflight", default=os.path.join(ROOT, "target", "release", "preflight"))
    ap.add_argument("--severities", default="1,2,3,4,5")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    severities = [int(s) for s in args.severities.split(",")]
    names = sorted(n for n in os.listdir(FRAMES) if n.endswith(".jpg"))
    ids = [os.path.splitext(n)[0] for n in names]
    paths = [os.path.join(FRAMES, n) for n in names]
    clean = run(args.preflight, paths)
    rows = []
    for i, (boxes, flagged) in enumerate(clean):
        rows.append({"id": ids[i], "part": part(ids[i]), "fault": "clean", "severity": 0,
                     "broken": False, "flagged": flagged})
    with tempfile.TemporaryDirectory() as tmp:
        for fault in FAULTS:
            for s in severities:
                made = []
                for path, case_id in zip(paths, ids):
                    out = os.path.join(tmp, f"{case_id}.png")
                    subprocess.run([args.preflight, "perturb", path, "--name", fault, "--severity",
                                    str(s), "--seed", "0", "--out", out], check=True)
                    made.append(out)
                for i, (boxes, flagged) in enumerate(run(args.preflight, made)):
                    rows.append({"id": ids[i], "part": part(ids[i]), "fault": fault, "severity": s,
                                 "broken": not same_decisions(clean[i][0], boxes),
                                 "flagged": flagged})
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        return
    print(f"{'fault':16} {'part':11} {'broken':>7} {'flagged':>8} {'held':>6} {'flagged':>8}")
    for fault in ["clean"] + FAULTS:
        for p in ["fit", "held-apart"]:
            sel = [r for r in rows if r["fault"] == fault and r["part"] == p]
            broken = [r for r in sel if r["broken"]]
            held = [r for r in sel if not r["broken"]]
            pct = lambda rs: f"{100 * sum(r['flagged'] for r in rs) / len(rs):.0f} %" if rs else "–"
            print(f"{fault:16} {p:11} {len(broken):7} {pct(broken):>8} {len(held):6} {pct(held):>8}")


if __name__ == "__main__":
    main()
