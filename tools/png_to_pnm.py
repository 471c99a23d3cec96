#!/usr/bin/env python3
"""Convert an 8-bit, non-interlaced PNG (gray or RGB, alpha dropped) to a binary PGM/PPM, with
the standard library only. Used to feed frames to the C example, which has no PNG decoder.

    python3 tools/png_to_pnm.py IN.png OUT.ppm
"""
import struct
import sys
import zlib


def decode_png(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, color type {color}, interlace {interlace})")
    raw, stride = zlib.decompress(idat), width * channels
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    keep = 1 if channels in (1, 2) else 3
    pixels = b"".join(bytes(r[x * channels + k] for x in range(width) for k in range(keep)) for r in rows)
    return width, height, keep, pixels


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        width, height, channels, pixels = decode_png(f.read())
    with open(dst, "wb") as f:
        f.write(f"{'P6' if channels == 3 else 'P5'}\n{width} {height}\n255\n".encode() + pixels)


if __name__ == "__main__":
    main()
