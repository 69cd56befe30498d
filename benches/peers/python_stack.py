#!/usr/bin/env python3
"""Peer benchmark: the Python stack a user would assemble instead of pixtape.

Pillow decodes and preprocesses each image (torchvision's transform),
onnxruntime runs the same MobileNetV2 in batches of 32, a linear map turns
the 1,000 class probabilities into a 38-dimensional query (a stand-in for
pixtape's mood mapping), faiss finds the exact top-20 tracks among N
catalog vectors, and pyarrow writes the results to Parquet. Compare its
images/s with `pixtape recommend` on the same folder and catalog size:

    python3 -m pip install numpy pillow onnx onnxruntime faiss-cpu pyarrow safetensors
    python3 benches/peers/python_stack.py --images FOLDER --tracks 1000000
"""

import time

START = time.time()  # before the heavy imports: the whole process counts

# The imports below come after START on purpose (E402).
import argparse  # noqa: E402
import glob  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_mobilenet import ROOT, build, preprocess  # noqa: E402

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--tracks", type=int, default=1_000_000)
    ap.add_argument("--out", default="/tmp/python-stack.parquet")
    ap.add_argument("--catalog", help="a Parquet file of 38 float columns to load as the catalog (counted in the "
                    "whole-process time); without it, N random vectors are made in memory")
    args = ap.parse_args()
    files = sorted(p for p in glob.glob(os.path.join(args.images, "**", "*"), recursive=True)
                   if p.lower().endswith((".jpg", ".jpeg", ".png")))
    sess = ort.InferenceSession(build(load_file(os.path.join(ROOT, "models", "mobilenet_v2.safetensors"))).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    if args.catalog:
        table = pq.read_table(args.catalog)
        catalog = np.ascontiguousarray(np.column_stack([c.to_numpy() for c in table.columns]), dtype=np.float32)
    else:
        catalog = rng.random((args.tracks, 38), dtype=np.float32) - 0.5
    index = faiss.IndexFlatIP(38)
    index.add(catalog)
    to_mood = rng.random((1000, 38), dtype=np.float32)

    t0 = time.perf_counter()
    ids, ranks, tracks, scores = [], [], [], []
    for i in range(0, len(files), 32):
        chunk = files[i:i + 32]
        batch = np.stack([preprocess(p) for p in chunk])
        logits = sess.run(None, {"input": batch})[0]
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        d, idx = index.search((probs @ to_mood).astype(np.float32), 20)
        for f, drow, irow in zip(chunk, d, idx):
            ids += [f] * 20
            ranks += list(range(1, 21))
            tracks += irow.tolist()
            scores += drow.tolist()
    pq.write_table(pa.table({"image_id": ids, "rank": ranks, "track": tracks, "score": scores}), args.out, compression="zstd")
    secs = time.perf_counter() - t0
    whole = time.time() - START
    print(f"python stack (Pillow -> onnxruntime {ort.__version__} -> faiss {faiss.__version__} -> pyarrow): "
          f"{len(files)} images in {secs:.1f} s = {len(files) / secs:.1f} images/s, top-20 over {len(catalog)} tracks; "
          f"whole process from interpreter start {whole:.2f} s = {len(files) / whole:.1f} images/s")


if __name__ == "__main__":
    main()
