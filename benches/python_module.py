#!/usr/bin/env python3
"""The module against the command on the same photos: images/s of
`pixtape.Analyzer.analyze` in process (model opened beforehand) against
the run time `pixtape analyze` records in its manifest (also after its
model is built), alternating, medians of `--rounds`; then Ray Data and
Spark with two workers each over the same photos, timed from submitting
the job to having the rows in the driver (actors or Python workers
starting included), where they are installed.

    python/test.sh                   # or any environment with the wheel installed
    python benches/python_module.py --count 1000 --rounds 5 [--ray] [--spark]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from functools import partial

import pixtape


def cli(*args):
    subprocess.run([shutil.which("pixtape"), *map(str, args)], check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--ray", action="store_true")
    ap.add_argument("--spark", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pixtape-bench-")
    photos = os.path.join(work, "photos")
    cli("photos", "synth", "--count", args.count, "--out", photos)
    analyzer = pixtape.Analyzer(device="cpu", threads=args.threads)
    analyzer.analyze(photos)  # warm: page cache, allocator
    module, command = [], []
    for r in range(args.rounds):
        out = os.path.join(work, f"cli-{r}")
        cli("analyze", "--images", photos, "--out", out, "--device", "cpu", "-q", "--threads", args.threads)
        with open(os.path.join(out, "manifest.json")) as f:
            command.append(args.count / json.load(f)["wall_seconds"])
        t = time.perf_counter()
        n = analyzer.analyze(photos).num_rows
        module.append(n / (time.perf_counter() - t))
    m, c = statistics.median(module), statistics.median(command)
    print(f"{args.count} photos, {args.threads} threads, medians of {args.rounds}, alternating")
    print(f"  pixtape analyze (manifest run time): {c:.1f} images/s  {[round(x, 1) for x in command]}")
    print(f"  pixtape.Analyzer.analyze:            {m:.1f} images/s  {[round(x, 1) for x in module]}")
    print(f"  module / command: {m / c:.3f}")
    rows = [{"path": os.path.join(photos, p), "id": p} for p in sorted(os.listdir(photos))]
    if args.ray:
        import ray
        import pyarrow as pa
        from pixtape import ray as pixtape_ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        t = time.perf_counter()
        refs = ray.data.from_items(rows).map_batches(
            pixtape_ray.Analyzer, fn_constructor_kwargs={"device": "cpu", "threads": 1},
            batch_format="pyarrow", batch_size=128, concurrency=2).to_arrow_refs()
        n = pa.concat_tables(ray.get(refs)).num_rows
        print(f"  Ray Data, 2 actors of 1 thread:      {n / (time.perf_counter() - t):.1f} images/s (job, actors starting included)")
        ray.shutdown()
    if args.spark:
        from pyspark.sql import SparkSession
        import pixtape.spark as ps

        spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
        df = spark.createDataFrame([(r["path"], r["id"]) for r in rows], "path string, id string").repartition(2)
        df.count()
        t = time.perf_counter()
        n = df.mapInArrow(partial(ps.analyze_batches, device="cpu", threads=1), ps.images_schema()).toArrow().num_rows
        print(f"  Spark local[2], 1 thread a worker:   {n / (time.perf_counter() - t):.1f} images/s (job, Python workers starting included)")
        spark.stop()
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
