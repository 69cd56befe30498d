#!/usr/bin/env python3
"""What reduced-scale JPEG decoding changes: runs `pixtape analyze` on a
folder twice, by default and with --exact-decode, and compares the images
that took the reduced path (JPEGs with a short side of 512 or more).

    python3 benches/decode_agreement.py PIXTAPE FOLDER

Prints top-1 class agreement, mood-label agreement, and the largest and
mean absolute difference of the 24-d mood vector and of valence/arousal.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow.parquet as pq


def run(pixtape, folder, out, extra):
    subprocess.run([pixtape, "analyze", "--device", "cpu", "-q", "--images", folder, "--out", out] + extra,
                   check=False)
    t = pq.read_table(os.path.join(out, "images.parquet")).to_pydict()
    return {i: k for k, i in enumerate(t["image_id"])}, t


def main():
    pixtape, folder = sys.argv[1:3]
    tmp = tempfile.mkdtemp(prefix="pixtape-agree-")
    ia, a = run(pixtape, folder, os.path.join(tmp, "reduced"), [])
    ib, b = run(pixtape, folder, os.path.join(tmp, "exact"), ["--exact-decode"])
    ids = [i for i in ia if i in ib and a["format"][ia[i]] == "jpeg"
           and min(a["width"][ia[i]], a["height"][ia[i]]) >= 512]
    if not ids:
        raise SystemExit("no JPEG with a short side of 512 or more in the folder")
    top1 = np.mean([a["top1_label"][ia[i]] == b["top1_label"][ib[i]] for i in ids])
    label = np.mean([a["mood_label"][ia[i]] == b["mood_label"][ib[i]] for i in ids])
    mv = np.array([np.abs(np.array(a["mood_vector"][ia[i]]) - np.array(b["mood_vector"][ib[i]])).max() for i in ids])
    va = np.array([max(abs(a["valence"][ia[i]] - b["valence"][ib[i]]), abs(a["arousal"][ia[i]] - b["arousal"][ib[i]]))
                   for i in ids])
    print(f"{len(ids)} JPEGs decoded at reduced scale (of {len(ia)} images)")
    print(f"  top-1 class agreement     {top1:.3f}")
    print(f"  mood label agreement      {label:.3f}")
    print(f"  mood vector |diff|: max   {mv.max():.4f}, mean of per-image max {mv.mean():.4f}")
    print(f"  valence/arousal |diff|: max {va.max():.4f}, mean {va.mean():.4f}")


if __name__ == "__main__":
    main()
