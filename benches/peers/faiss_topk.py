#!/usr/bin/env python3
"""Peer benchmark: faiss-cpu exact inner-product top-20 over 1M tracks.

Same shape as `cargo bench --bench similarity`: 38-dimensional float32
vectors, k = 20, query batches of 1, 32 and 256:

    python3 -m pip install numpy faiss-cpu
    python3 benches/peers/faiss_topk.py
"""

import statistics
import time

import faiss
import numpy as np

DIM, N, K = 38, 1_000_000, 20


def main():
    rng = np.random.default_rng(1)
    xb = (rng.random((N, DIM), dtype=np.float32) - 0.5)
    index = faiss.IndexFlatIP(DIM)
    index.add(xb)
    for batch in (1, 32, 256):
        xq = (rng.random((batch, DIM), dtype=np.float32) - 0.5)
        index.search(xq, K)
        rates = []
        reps = max(2, 512 // batch)
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(reps):
                index.search(xq, K)
            rates.append(batch * reps / (time.perf_counter() - t))
        print(f"faiss {faiss.__version__} IndexFlatIP top-{K} over {N} x {DIM}, batch {batch}: "
              f"median {statistics.median(rates):.0f} queries/s (threads {faiss.omp_get_max_threads()})")


if __name__ == "__main__":
    main()
