#!/usr/bin/env python3
"""Write a small test video: YUV4MPEG2 (.y4m), uncompressed 4:2:0, so nothing needs downloading.

    python3 make-sample-video.py sample.y4m [--seconds 4] [--fps 5] [--size 64x48]

A bright bar sweeps across a gradient while the colour changes every second, so the frames that
split-video.sh extracts differ in size-independent ways (mean brightness, hue).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def frame(width: int, height: int, index: int, fps: int) -> bytes:
    bar = (index * width // fps // 2) % width
    luma = bytes(
        235 if abs(x - bar) < 3 else 16 + (x * 150 // width + y * 50 // height + index * 4) % 200
        for y in range(height)
        for x in range(width)
    )
    second = index // fps
    u, v = 128 + 40 * ((second % 3) - 1), 128 + 40 * (((second + 1) % 3) - 1)
    chroma = (width // 2) * (height // 2)
    return b"FRAME\n" + luma + bytes([u]) * chroma + bytes([v]) * chroma


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--fps", type=int, default=5)
    parser.add_argument("--size", default="64x48", help="WIDTHxHEIGHT, both even")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))
    if width % 2 or height % 2:
        parser.error("--size: width and height must be even (4:2:0 chroma)")
    with args.output.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{args.fps}:1 Ip A1:1 C420jpeg\n".encode())
        for index in range(args.seconds * args.fps):
            out.write(frame(width, height, index, args.fps))
    print(f"wrote {args.output}: {args.seconds} s at {args.fps} fps, {width}x{height}")


if __name__ == "__main__":
    main()
