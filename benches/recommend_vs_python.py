#!/usr/bin/env python3
"""`pixtape recommend` against the Python stack, as a user runs each: whole
processes, alternating, in one run.

    pixtape catalog synth --tracks 1000000 --out c1m.parquet
    python3 benches/recommend_vs_python.py PIXTAPE PHOTOS c1m.parquet [ROUNDS]

PHOTOS is a folder of photographs; 2,000 JPEGs of 640x480 are cut from
them (centre and shifted crops, mirrored) into a temporary folder. The
peer (`benches/peers/python_stack.py`: Pillow -> onnxruntime -> faiss ->
pyarrow) reads a Parquet of the catalog's 1M rows as 38 float columns,
made once from the source, in its whole-process time. Each round times:
  * pixtape, the source catalog, no cache (`--no-catalog-cache`);
  * pixtape, the source, first run (an empty cache folder);
  * pixtape, the source, next run (the entry the run before wrote);
  * the next run and the no-cache run with `--faces off` (the peer reads
    no faces);
  * the next run, with faces and without, at `--precision f32` (the other
    runs take the default, int8 on CPUs with AVX-512 VNNI);
  * the peer.
Medians of ROUNDS (default 3), and each pixtape figure against the peer.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
COUNT, SIZE = 2000, (640, 480)


def make_images(src, dest):
    photos = sorted(os.path.join(src, f) for f in os.listdir(src) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    shifts = [(0.5, 0.5), (0.2, 0.3), (0.8, 0.7)]
    n = 0
    while n < COUNT:
        for p in photos:
            if n >= COUNT:
                break
            k = n // len(photos)
            with Image.open(p) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
                im = ImageOps.fit(im, SIZE, centering=shifts[k % len(shifts)])
                if k % 2:
                    im = ImageOps.mirror(im)
                im.save(os.path.join(dest, f"img{n:05d}.jpg"), quality=90)
            n += 1


def peer_catalog(source, dest):
    # 38 float columns, one row per track, as python_stack.py loads them.
    rows = pq.read_metadata(source).num_rows
    vectors = np.random.default_rng(1).random((rows, 38), dtype=np.float32) - 0.5
    pq.write_table(pa.table({f"d{i}": vectors[:, i] for i in range(38)}), dest)


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    pixtape, photos, source = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    with tempfile.TemporaryDirectory() as work:
        images = os.path.join(work, "images")
        os.mkdir(images)
        make_images(photos, images)
        peer_cat = os.path.join(work, "peer.parquet")
        peer_catalog(source, peer_cat)
        for path in (source, peer_cat):
            with open(path, "rb") as f:
                while f.read(1 << 24):
                    pass
        out = os.path.join(work, "out")
        px = [pixtape, "recommend", "--images", images, "--catalog", source, "--out", out, "--device", "cpu", "-q"]
        peer = [sys.executable, os.path.join(HERE, "peers", "python_stack.py"), "--images", images,
                "--catalog", peer_cat, "--out", os.path.join(work, "peer-out.parquet")]
        times = {k: [] for k in ["pixtape, no cache", "pixtape, first run", "pixtape, next run",
                                 "pixtape, no cache, faces off", "pixtape, next run, faces off",
                                 "pixtape, next run, f32", "pixtape, next run, faces off, f32", "python stack"]}
        for r in range(rounds):
            cache = os.path.join(work, f"cache-{r}")
            times["pixtape, no cache"].append(timed(px + ["--no-catalog-cache"]))
            times["pixtape, first run"].append(timed(px + ["--catalog-cache", cache]))
            times["pixtape, next run"].append(timed(px + ["--catalog-cache", cache]))
            times["pixtape, no cache, faces off"].append(timed(px + ["--no-catalog-cache", "--faces", "off"]))
            times["pixtape, next run, faces off"].append(timed(px + ["--catalog-cache", cache, "--faces", "off"]))
            f32 = ["--catalog-cache", cache, "--precision", "f32"]
            times["pixtape, next run, f32"].append(timed(px + f32))
            times["pixtape, next run, faces off, f32"].append(timed(px + f32 + ["--faces", "off"]))
            times["python stack"].append(timed(peer))
    peer_s = statistics.median(times["python stack"])
    print(f"{COUNT} JPEGs of {SIZE[0]}x{SIZE[1]}, {pq.read_metadata(source).num_rows} tracks, "
          f"{rounds} rounds, whole processes, medians:")
    for name, t in times.items():
        m = statistics.median(t)
        print(f"  {name:<30} {m:6.2f} s  {COUNT / m:6.1f} images/s  {peer_s / m:4.2f}x the peer  "
              "runs: " + ", ".join(f"{x:.2f}" for x in t))


if __name__ == "__main__":
    main()
