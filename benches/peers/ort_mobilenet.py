#!/usr/bin/env python3
"""Peer benchmark: onnxruntime running the same MobileNetV2 weights.

Builds an ONNX graph from models/mobilenet_v2.safetensors (the batch-norm
folded weights pixtape embeds), checks its logits against the golden file,
then times batched inference on this machine. Run it next to
`cargo bench --bench model` so both numbers come from the same machine state:

    python3 -m pip install numpy onnx onnxruntime safetensors
    python3 benches/peers/ort_mobilenet.py --batch 32 --repeats 20
"""

import argparse
import os
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(path, draft=False):
    """torchvision's evaluation transform with Pillow, as the peers feed the
    model: EXIF orientation, short side 256 (bilinear), centre crop 224,
    ImageNet mean/std, CHW. With `draft`, a JPEG is first decoded at the
    largest DCT reduction that keeps its short side at 256 or more."""
    from PIL import Image, ImageOps
    img = Image.open(path)
    if draft:
        w, h = img.size
        short = min(w, h)
        img.draft("RGB", (-(-w * 256 // short), -(-h * 256 // short)))
    img = ImageOps.exif_transpose(img).convert("RGB")
    w, h = img.size
    ow, oh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize((ow, oh), Image.BILINEAR)
    top, left = int(round((oh - 224) / 2.0)), int(round((ow - 224) / 2.0))
    x = np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(2, 0, 1)


def build(weights):
    nodes, inits = [], []
    for name, arr in weights.items():
        inits.append(numpy_helper.from_array(arr, name))
    six = numpy_helper.from_array(np.array(6.0, dtype=np.float32), "six")
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    inits += [six, zero]
    counter = [0]

    def conv(x, prefix, stride, group, relu):
        counter[0] += 1
        y = f"t{counter[0]}"
        k = weights[prefix + ".weight"].shape[-1]
        nodes.append(helper.make_node(
            "Conv", [x, prefix + ".weight", prefix + ".bias"], [y],
            strides=[stride, stride], pads=[k // 2] * 4, group=group))
        if relu:
            nodes.append(helper.make_node("Clip", [y, "zero", "six"], [y + "r"]))
            return y + "r"
        return y

    x = conv("input", "stem", 2, 1, True)
    cin, b = 32, 0
    for t, c, n, s in SETTING:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = conv(x, f"blocks.{b}.expand", 1, 1, True) if t != 1 else x
            y = conv(y, f"blocks.{b}.depthwise", stride, hidden, True)
            y = conv(y, f"blocks.{b}.project", 1, 1, False)
            if stride == 1 and cin == c:
                nodes.append(helper.make_node("Add", [x, y], [y + "a"]))
                y = y + "a"
            x, cin, b = y, c, b + 1
    x = conv(x, "head", 1, 1, True)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"]))
    nodes.append(helper.make_node("Gemm", ["flat", "classifier.weight", "classifier.bias"], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, "mobilenet_v2",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="0: onnxruntime's default")
    args = ap.parse_args()

    model = build(load_file(os.path.join(ROOT, "models", "mobilenet_v2.safetensors")))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if args.threads:
        opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    golden = load_file(os.path.join(ROOT, "models", "golden", "mobilenet_v2_golden.safetensors"))
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    for key in sorted(k for k in golden if k.endswith(".input")):
        x = ((golden[key].astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)[None]
        got = sess.run(None, {"input": x})[0][0]
        want = golden[key.replace(".input", ".logits")]
        err = np.abs(got - want).max() / np.abs(want).max()
        assert err < 1e-4, f"{key}: onnx graph disagrees with golden logits ({err:.2e})"

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 3, 224, 224)).astype(np.float32)
    sess.run(None, {"input": x})
    rates = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        sess.run(None, {"input": x})
        rates.append(args.batch / (time.perf_counter() - t))
    med = statistics.median(rates)
    gflops = med * 2 * 300_774_272 / 1e9
    print(f"onnxruntime {ort.__version__} mobilenet_v2 batch {args.batch}: "
          f"median {med:.1f} images/s ({gflops:.1f} GFLOP/s), min {min(rates):.1f}, max {max(rates):.1f}")


if __name__ == "__main__":
    main()
