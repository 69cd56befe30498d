#!/usr/bin/env python3
"""Accuracy of the model's lower-precision paths against the CPU's f32.

Runs `pixtape analyze --device cpu` on one folder of images once per
precision (with `--gpu`, also `--device gpu` at f32 and f16) and compares
each path's tables with the CPU f32 run's:

- top-1 agreement: the share of images whose top class is the f32 one;
- top-5: the mean share of the f32 top-5 classes in the path's top-5, and
  the share of images whose f32 top class is in the path's top-5;
- the largest valence and arousal differences, and the largest difference
  of any mood-vector dimension;
- mood-label agreement (the top mood).

The rule the default follows (issue: speed) is top-1 agreement of at least
97 % on the rated photos and valence and arousal differences under 0.05.

    python3 benches/precision_accuracy.py --images DIR [--binary PATH]
        [--faces on|off] [--gpu] [--json FILE]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

PRECISIONS = ["f32", "int8", "bf16"]


def run(binary, images, out, precision, faces, device="cpu"):
    cmd = [binary, "analyze", "--images", str(images), "--out", str(out), "--device", device,
           "--precision", precision, "--faces", faces, "-q"]
    subprocess.run(cmd, check=True)
    rows = pq.read_table(out / "images.parquet").to_pylist()
    return {r["image_id"]: r for r in rows}


def compare(ref, other):
    ids = sorted(ref)
    assert ids == sorted(other), "the runs read different images"
    n = len(ids)
    top1 = sum(ref[i]["top5_class_ids"][0] == other[i]["top5_class_ids"][0] for i in ids)
    overlap = sum(len(set(ref[i]["top5_class_ids"]) & set(other[i]["top5_class_ids"])) / 5 for i in ids)
    in5 = sum(ref[i]["top5_class_ids"][0] in other[i]["top5_class_ids"] for i in ids)
    label = sum(ref[i]["mood_label"] == other[i]["mood_label"] for i in ids)
    dv = max(abs(ref[i]["valence"] - other[i]["valence"]) for i in ids)
    da = max(abs(ref[i]["arousal"] - other[i]["arousal"]) for i in ids)
    dm = max(max(abs(a - b) for a, b in zip(ref[i]["mood_vector"], other[i]["mood_vector"])) for i in ids)
    return {
        "images": n,
        "top1_agreement": top1 / n,
        "top5_overlap": overlap / n,
        "top1_in_top5": in5 / n,
        "mood_label_agreement": label / n,
        "max_valence_diff": dv,
        "max_arousal_diff": da,
        "max_mood_vector_diff": dm,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--binary", default="target/release/pixtape")
    ap.add_argument("--faces", default="on", choices=["on", "off"])
    ap.add_argument("--gpu", action="store_true", help="also the GPU engine at f32 and f16")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {p: run(a.binary, a.images, Path(tmp) / p, p, a.faces) for p in PRECISIONS}
        if a.gpu:
            for p in ["f32", "f16"]:
                runs[f"gpu {p}"] = run(a.binary, a.images, Path(tmp) / f"gpu-{p}", p, a.faces, "gpu")
    table = {p: compare(runs["f32"], runs[p]) for p in runs if p != "f32"}
    print(f"{a.images} (faces {a.faces})")
    print("| precision | images | top-1 agreement | top-5 overlap | f32 top-1 in top-5 | top mood agreement "
          "| max Δvalence | max Δarousal | max Δmood vector |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for p, r in table.items():
        print(f"| {p} | {r['images']} | {r['top1_agreement']:.3f} | {r['top5_overlap']:.3f} | {r['top1_in_top5']:.3f} "
              f"| {r['mood_label_agreement']:.3f} | {r['max_valence_diff']:.4f} | {r['max_arousal_diff']:.4f} "
              f"| {r['max_mood_vector_diff']:.4f} |")
    if a.json:
        a.json.write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
