#!/usr/bin/env python3
"""Phone photos side by side: pixtape against Pillow (with and without
`draft`, libjpeg's DCT-scaled decode) and the Pillow-draft -> onnxruntime
stack a savvy Python user would write, alternating in one run.

    pixtape photos synth --count 40 --size 4000x3000 --exact --quality 88 --out phone40
    python3 -m pip install numpy pillow onnx onnxruntime safetensors
    python3 benches/peers/phone_photos.py PIXTAPE phone40 [REPS]

Every figure is images/s over the whole folder, median of REPS (default
3), page cache warm:
  * pixtape analyze (default: reduced-scale JPEG decode, faces searched
    where the model sees people), with --faces off (as the peer, which
    reads no faces) and with --exact-decode: the whole process, start,
    model load and Parquet writing included, on every core;
  * Pillow decode + torchvision preprocessing, plain and with draft, in a
    pool of one process per core (decode only, no model);
  * Pillow-draft -> onnxruntime: the pool preprocesses, the main process
    runs MobileNetV2 in batches of 32 with onnxruntime's threads; the
    session is built before the clock starts.
"""
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_mobilenet import preprocess  # noqa: E402

def plain(path):
    return preprocess(path, False).shape


def drafted(path):
    return preprocess(path, True).shape


def drafted_array(path):
    return preprocess(path, True)


def settle():
    # Every contender starts on a quiet machine: onnxruntime's threads spin
    # for a while after a run, and the previous contender's exit and page
    # cache writes may still be settling.
    time.sleep(0.5)


def main():
    pixtape, folder = sys.argv[1:3]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg")))
    for f in files:
        with open(f, "rb") as fh:
            fh.read()
    cores = os.cpu_count() or 1
    import onnxruntime as ort
    from safetensors.numpy import load_file
    from ort_mobilenet import ROOT, build
    sess = ort.InferenceSession(
        build(load_file(os.path.join(ROOT, "models", "mobilenet_v2.safetensors"))).SerializeToString(),
        providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = tempfile.mkdtemp(prefix="pixtape-phone-")
    runs = (("pixtape", []), ("pixtape --faces off", ["--faces", "off"]), ("pixtape --exact-decode", ["--exact-decode"]))
    rates = {k: [] for k in [r[0] for r in runs] + ["pillow", "pillow draft", "pillow draft -> onnxruntime"]}
    with mp.Pool(cores) as pool:
        pool.map(plain, files[:cores])
        for _ in range(reps):
            for label, extra in runs:
                shutil.rmtree(os.path.join(out, "run"), ignore_errors=True)
                settle()
                t = time.perf_counter()
                subprocess.run([pixtape, "analyze", "--device", "cpu", "-q", "--images", folder,
                                "--out", os.path.join(out, "run")] + extra, check=True)
                rates[label].append(len(files) / (time.perf_counter() - t))
            for label, fn in (("pillow", plain), ("pillow draft", drafted)):
                settle()
                t = time.perf_counter()
                pool.map(fn, files, chunksize=1)
                rates[label].append(len(files) / (time.perf_counter() - t))
            settle()
            t = time.perf_counter()
            batch = []
            for x in pool.imap(drafted_array, files, chunksize=1):
                batch.append(x)
                if len(batch) == 32:
                    sess.run(None, {name: np.stack(batch)})
                    batch = []
            if batch:
                sess.run(None, {name: np.stack(batch)})
            rates["pillow draft -> onnxruntime"].append(len(files) / (time.perf_counter() - t))
    shutil.rmtree(out, ignore_errors=True)
    img = Image.open(files[0])
    print(f"{len(files)} JPEGs of {img.size[0]}x{img.size[1]}, {cores} cores, {reps} reps, medians (images/s):")
    for k, v in rates.items():
        print(f"  {k:30s} {statistics.median(v):7.1f}   (runs: {', '.join(f'{x:.1f}' for x in v)})")
    base = statistics.median(rates["pillow draft -> onnxruntime"])
    for k in ("pixtape", "pixtape --faces off"):
        print(f"  {k} / (pillow draft -> onnxruntime): {statistics.median(rates[k]) / base:.2f}")


if __name__ == "__main__":
    main()
