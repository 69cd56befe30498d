#!/usr/bin/env python3
"""A user's first and later `recommend` on a source catalog, against the
same run on a catalog index, as whole processes, alternating in one run.

    pixtape catalog synth --tracks 1000000 --out c1m.parquet
    pixtape catalog build --catalog c1m.parquet --out c1m.pxi --no-catalog-cache
    python3 benches/catalog_cache.py PIXTAPE c1m.parquet c1m.pxi IMAGES [ROUNDS]

Each round times four runs of `pixtape recommend --images IMAGES
--device cpu` (faces off, so the catalog's share shows):
  * source, no cache (`--no-catalog-cache`): the source parsed;
  * source, first run (an empty cache folder): parsed, and the cache
    entry written;
  * source, next run (the entry from the run before);
  * the index.
and prints the medians (default 3 rounds) and each against the index.
The files are read once first, so every run reads from the page cache.
A first run's entry is written while the run works on its images; with
few images the run waits for it at the end.
"""
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(pixtape, catalog, images, out, *extra):
    t = time.perf_counter()
    subprocess.run([pixtape, "recommend", "--images", images, "--catalog", catalog, "--out", out,
                    "--device", "cpu", "--faces", "off", "-q", *extra], check=True)
    return time.perf_counter() - t


def main():
    pixtape, source, index, images = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    for path in (source, index):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    times = {"source, no cache": [], "source, first run": [], "source, next run": [], "index": []}
    with tempfile.TemporaryDirectory() as work:
        for r in range(rounds):
            # The round before's entry goes first, so that rounds do not pile
            # up page cache: a user makes one entry per catalog.
            shutil.rmtree(f"{work}/cache-{r - 1}", ignore_errors=True)
            cache = f"{work}/cache-{r}"
            out = f"{work}/out"
            times["source, no cache"].append(run(pixtape, source, images, out, "--no-catalog-cache"))
            times["source, first run"].append(run(pixtape, source, images, out, "--catalog-cache", cache))
            times["source, next run"].append(run(pixtape, source, images, out, "--catalog-cache", cache))
            times["index"].append(run(pixtape, index, images, out, "--no-catalog-cache"))
    base = statistics.median(times["index"])
    print(f"{rounds} rounds, medians (whole process):")
    for name, t in times.items():
        m = statistics.median(t)
        print(f"  {name:<20} {m:6.2f} s  ({m - base:+.2f} s against the index)  runs: "
              + ", ".join(f"{x:.2f}" for x in t))


if __name__ == "__main__":
    main()
