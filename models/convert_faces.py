#!/usr/bin/env python3
"""Convert face-api's tiny face detector and expression network into pixtape's weights.

Reproduces `models/faces.safetensors` byte for byte from the npm package
named in models/README.md:

    npm pack @vladmandic/face-api@1.7.15          # vladmandic-face-api-1.7.15.tgz
    python3 models/convert_faces.py --tarball vladmandic-face-api-1.7.15.tgz

Needs numpy only (no TensorFlow, no Node). face-api stores each network as a
JSON manifest plus a binary shard of its tensors in manifest order; most are
quantised to uint8 with a per-tensor affine map, which is undone here in
float64 (value = min + scale * q) before rounding once to float32. Tensor
names keep face-api's, under a `detector/` or `expression/` prefix, and
layouts stay TensorFlow's: convolution filters [kh, kw, in, out], depthwise
filters [kh, kw, channels, 1], the classifier [in, out].
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert import save_safetensors  # noqa: E402

PACKAGE = "@vladmandic/face-api"
VERSION = "1.7.15"
TARBALL_SHA256 = "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
NETWORKS = {
    "detector": "tiny_face_detector_model",
    "expression": "face_expression_model",
}
DTYPE_BYTES = {"float32": 4, "int32": 4}


def read_network(tar, stem):
    """Return ({name: float32 array}, {file: sha256}) for one face-api network."""
    manifest = json.load(tar.extractfile(f"package/model/{stem}-weights_manifest.json"))
    out, hashes = {}, {}
    for group in manifest:
        data = b""
        for path in group["paths"]:
            blob = tar.extractfile(f"package/model/{path}").read()
            hashes[f"package/model/{path}"] = hashlib.sha256(blob).hexdigest()
            data += blob
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                assert q["dtype"] == "uint8", q
                raw = np.frombuffer(data, dtype=np.uint8, count=count, offset=offset)
                values = q["min"] + q["scale"] * raw.astype(np.float64)
                offset += count
            else:
                assert w["dtype"] == "float32", w
                values = np.frombuffer(data, dtype="<f4", count=count, offset=offset).astype(np.float64)
                offset += count * DTYPE_BYTES[w["dtype"]]
            out[w["name"]] = values.astype(np.float32).reshape(w["shape"])
        assert offset == len(data), f"{stem}: {len(data) - offset} bytes left over"
    return out, hashes


def load(tarball):
    with open(tarball, "rb") as f:
        blob = f.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != TARBALL_SHA256:
        sys.exit(f"{tarball}: sha256 {digest}, expected {TARBALL_SHA256} ({PACKAGE}@{VERSION})")
    tensors, hashes = {}, {}
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for prefix, stem in NETWORKS.items():
            net, h = read_network(tar, stem)
            hashes.update(h)
            for name, arr in net.items():
                tensors[f"{prefix}/{name}"] = arr
    return tensors, hashes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tarball", required=True, help=f"npm pack {PACKAGE}@{VERSION}")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "faces.safetensors"))
    args = ap.parse_args()
    tensors, hashes = load(args.tarball)
    metadata = {"source": f"npm {PACKAGE}@{VERSION}", "licence": "MIT", "tarball_sha256": TARBALL_SHA256}
    metadata.update({f"sha256:{k}": v for k, v in hashes.items()})
    save_safetensors(args.out, tensors, metadata)
    print(f"wrote {args.out}: {len(tensors)} tensors, {sum(a.size for a in tensors.values())} weights")


if __name__ == "__main__":
    main()
