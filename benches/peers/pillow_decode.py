#!/usr/bin/env python3
"""Peer benchmark: Pillow decode + torchvision-style resize + centre crop.

Uses the same 640x480 re-encodes that `cargo bench --bench decode` writes
to the system temp folder (run that bench first). One process, as a
typical torchvision DataLoader worker:

    python3 benches/peers/pillow_decode.py --repeats 20
"""

import argparse
import glob
import os
import statistics
import tempfile
import time

from PIL import Image


def transform(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    ow, oh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize((ow, oh), Image.BILINEAR)
    top, left = int(round((oh - 224) / 2.0)), int(round((ow - 224) / 2.0))
    return img.crop((left, top, left + 224, top + 224)).tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(tempfile.gettempdir(), "pixtape-bench-640x480", "*.jpg")))
    if not files:
        raise SystemExit("run `cargo bench --bench decode` first: it writes the 640x480 test files")
    for f in files:
        transform(f)
    rates = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        for f in files:
            transform(f)
        rates.append(len(files) / (time.perf_counter() - t))
    print(f"Pillow {Image.__version__} decode+resize+crop 640x480 jpeg, 1 process: "
          f"median {statistics.median(rates):.1f} images/s (min {min(rates):.1f}, max {max(rates):.1f})")


if __name__ == "__main__":
    main()
