#!/usr/bin/env python3
"""Catalog loading side by side: pixtape loading a catalog index against
pyarrow reading the same catalog's Parquet, alternating, in one run.

    pixtape catalog synth --tracks 1000000 --out c1m.parquet
    pixtape catalog build --catalog c1m.parquet --out c1m.pxi
    python3 benches/peers/catalog_load.py PIXTAPE c1m.parquet c1m.pxi [REPS] [--source]

For pixtape it reports the load time the catalog report records (reading
the index and building every track's similarity vector) and the whole
process (`pixtape catalog check`, start to exit); for pyarrow
`pyarrow.parquet.read_table` of all columns. With --source it also times
pixtape placing the source Parquet itself (parsing on every core, as
`--catalog FILE.parquet` does). Medians of REPS (default 5).
The files are read once first, so every rep reads from the page cache.
"""
import json
import statistics
import subprocess
import sys
import time

import pyarrow.parquet as pq


def main():
    args = [a for a in sys.argv[1:] if a != "--source"]
    source = "--source" in sys.argv
    pixtape, parquet, index = args[:3]
    reps = int(args[3]) if len(args) > 3 else 5
    for path in (parquet, index):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    load, proc, arrow, parse = [], [], [], []
    rows = 0
    for _ in range(reps):
        t = time.perf_counter()
        out = subprocess.run([pixtape, "catalog", "check", "--catalog", index],
                             check=True, capture_output=True, text=True).stdout
        proc.append(time.perf_counter() - t)
        report = json.loads(out)
        load.append(report["load_seconds"])
        t = time.perf_counter()
        table = pq.read_table(parquet)
        arrow.append(time.perf_counter() - t)
        rows = table.num_rows
        del table
        if source:
            # Without the catalog cache, which would read its entry instead.
            out = subprocess.run([pixtape, "catalog", "check", "--catalog", parquet, "--no-catalog-cache"],
                                 check=True, capture_output=True, text=True).stdout
            parse.append(json.loads(out)["load_seconds"])
    med = statistics.median
    print(f"{rows} tracks, {reps} reps, medians:")
    print(f"  pixtape index load      {med(load):7.3f} s")
    print(f"  pixtape catalog check   {med(proc):7.3f} s  (whole process)")
    print(f"  pyarrow read_table      {med(arrow):7.3f} s")
    print(f"  ratio load / pyarrow    {med(load) / med(arrow):7.2f}")
    if parse:
        print(f"  pixtape from Parquet    {med(parse):7.3f} s  (the source, parsed on every core; "
              f"{rows / med(parse) / 1e6:.2f}M tracks/s, pyarrow's read {rows / med(arrow) / 1e6:.1f}M rows/s)")


if __name__ == "__main__":
    main()
