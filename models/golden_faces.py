#!/usr/bin/env python3
"""Golden face detections and expressions, computed independently of pixtape.

    npm pack @vladmandic/face-api@1.7.15
    python3 models/golden_faces.py --tarball vladmandic-face-api-1.7.15.tgz \
        tests/data/faces/*.jpg tests/data/faces/*.webp assets/photos/*.jpg

A float64 numpy forward pass of face-api's tiny face detector and its
expression network, from the original weights in the npm tarball (read by
convert_faces.py, not from pixtape's converted file), following face-api's
TypeScript source: TensorFlow padding rules ('valid', 'same' with the extra
row and column after), leaky ReLU 0.1, max pools that ignore their padding,
the dense blocks' running sums, the 7x7 average pool and the softmax.

Per photo the preparation is pixtape's, done here with Pillow:
- the face frame: EXIF-transposed RGB, shrunk (bilinear) so its long side is
  at most 832 pixels;
- the detector passes: the frame scaled to fill `fill` of a black square of
  `side` pixels (its long side becomes round(side * fill), the short side is
  rounded likewise), placed at the top left: (416, 0.75) for faces that
  fill the picture, (416, 1.0), and (832, 1.0) when the frame's long side is
  at least 832 and the 416 passes found a face, for small faces beside
  it; the shrunk pass keeps only boxes whose
  long side is at least 0.2 of the frame's; the boxes of all passes go
  through one non-maximum suppression (IoU 0.4), scores above 0.6;
- each face crop: the detected box clipped to the frame (floor of the
  corner, ceiling of the far corner), padded with black to a centred square,
  resized to 112.

Writes models/golden/faces_golden.safetensors with, per photo `<stem>`:
`<stem>.frame_size` (f32 [2]: width, height of the face frame),
for photos with faces `<stem>.input416` (u8 [416, 416, 3], the (416, 1.0)
pass) and `<stem>.raw416` (f32 [13, 13, 25], its output before decoding), `<stem>.boxes` (f32 [n, 5]: x, y,
width, height in frame pixels and the confidence, after NMS, score > 0.6),
`<stem>.crops` (u8 [n, 112, 112, 3]) and `<stem>.expressions` (f32 [n, 7],
probabilities in face-api's order: neutral, happy, sad, angry, fearful,
disgusted, surprised). pixtape's tests feed the stored inputs and crops to
both engines and compare (tolerances in tests/faces.rs).
"""

import argparse
import os
import struct
import json
import sys

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_faces import load  # noqa: E402

DET_MEAN = np.array([117.001, 114.697, 97.404])
EXPR_MEAN = np.array([122.782, 117.001, 104.298])
ANCHORS = [(1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061), (4.266906, 5.178857),
           (9.041765, 10.66308)]
FRAME_MAX = 832
SCORE_THRESHOLD = 0.6
IOU_THRESHOLD = 0.4
EXPR_SIDE = 112


def tf_pad(n, k, s):
    """TensorFlow 'same' padding (before, after) for length n, kernel k, stride s."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pad_hw(x, pads, value=0.0):
    (t, b), (l, r) = pads
    return np.pad(x, ((t, b), (l, r), (0, 0)), constant_values=value)


def taps(x, k, s, oh, ow):
    """Yield (ky, kx, view [oh, ow, C]) of a padded [H, W, C] array."""
    for ky in range(k):
        for kx in range(k):
            yield ky, kx, x[ky:ky + (oh - 1) * s + 1:s, kx:kx + (ow - 1) * s + 1:s, :]


def conv(x, w, s, pads):
    """Dense convolution; x [H, W, Ci], w [k, k, Ci, Co]."""
    k = w.shape[0]
    xp = pad_hw(x, pads)
    oh, ow = (xp.shape[0] - k) // s + 1, (xp.shape[1] - k) // s + 1
    out = np.zeros((oh, ow, w.shape[3]))
    for ky, kx, v in taps(xp, k, s, oh, ow):
        out += v @ w[ky, kx]
    return out


def depthwise(x, w, s, pads):
    """Depthwise convolution; w [k, k, C, 1]."""
    k = w.shape[0]
    xp = pad_hw(x, pads)
    oh, ow = (xp.shape[0] - k) // s + 1, (xp.shape[1] - k) // s + 1
    out = np.zeros((oh, ow, x.shape[2]))
    for ky, kx, v in taps(xp, k, s, oh, ow):
        out += v * w[ky, kx, :, 0]
    return out


def same(x, k, s):
    return tf_pad(x.shape[0], k, s), tf_pad(x.shape[1], k, s)


def separable(x, p, s, pads):
    """tf.separableConv2d then the bias: depthwise, pointwise [1, 1, C, O], + bias."""
    return depthwise(x, p["depthwise_filter"], s, pads) @ p["pointwise_filter"][0, 0] + p["bias"]


def leaky(x):
    return np.where(x > 0, x, 0.1 * x)


def relu(x):
    return np.maximum(x, 0.0)


def max_pool_same(x, s):
    """2x2 max pool, TensorFlow 'same': padding never wins."""
    pads = same(x, 2, s)
    xp = pad_hw(x, pads, -np.inf)
    oh, ow = (xp.shape[0] - 2) // s + 1, (xp.shape[1] - 2) // s + 1
    out = np.full((oh, ow, x.shape[2]), -np.inf)
    for _, _, v in taps(xp, 2, s, oh, ow):
        out = np.maximum(out, v)
    return out


def params(weights, prefix):
    out = {}
    for name, arr in weights.items():
        if name.startswith(prefix + "/"):
            out[name[len(prefix) + 1:]] = arr.astype(np.float64)
    return out


def detector_forward(w, img):
    """img u8 [S, S, 3] -> raw output [S/32, S/32, 25] (float64)."""
    x = (img.astype(np.float64) - DET_MEAN) / 255.0
    x = leaky(conv(x, w["conv0/filters"], 1, ((0, 0), (0, 0))) + w["conv0/bias"])
    x = max_pool_same(x, 2)
    for i in range(1, 6):
        p = {k: w[f"conv{i}/{k}"] for k in ("depthwise_filter", "pointwise_filter", "bias")}
        x = leaky(separable(x, p, 1, ((1, 1), (1, 1))))
        x = max_pool_same(x, 2 if i < 5 else 1)
    return conv(x, w["conv8/filters"], 1, ((0, 0), (0, 0))) + w["conv8/bias"]


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def decode(raw, scale):
    """Boxes [x, y, w, h, score] in frame pixels, before NMS; `scale` = side / long side."""
    cells = raw.shape[0]
    side = cells * 32
    r = raw.reshape(cells, cells, len(ANCHORS), 5)
    out = []
    for row in range(cells):
        for col in range(cells):
            for a, (ax, ay) in enumerate(ANCHORS):
                tx, ty, tw, th, ts = r[row, col, a]
                score = sigmoid(ts)
                if score <= SCORE_THRESHOLD:
                    continue
                cx = (col + sigmoid(tx)) / cells
                cy = (row + sigmoid(ty)) / cells
                bw = np.exp(tw) * ax / cells
                bh = np.exp(th) * ay / cells
                px = side / scale
                out.append([(cx - bw / 2) * px, (cy - bh / 2) * px, bw * px, bh * px, score])
    return out


def iou(a, b):
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def nms(boxes):
    order = sorted(boxes, key=lambda b: -b[4])
    kept = []
    for b in order:
        if all(iou(b, k) <= IOU_THRESHOLD for k in kept):
            kept.append(b)
    return kept


def half_up(x):
    """Rounds halves up, as pixtape does (Python's round() takes them to even)."""
    return int(np.floor(x + 0.5))


def passes(frame):
    """(side, fill, least) of each detector pass over a frame: boxes of a pass
    whose long side is under `least` times the frame's are dropped."""
    return [(416, 0.75, 0.2), (416, 1.0, 0.0)] + ([(832, 1.0, 0.0)] if max(frame.size) >= 832 else [])


def letterbox(frame, side, fill=1.0):
    fw, fh = frame.size
    scale = side * fill / max(fw, fh)
    size = (max(1, half_up(fw * scale)), max(1, half_up(fh * scale)))
    canvas = Image.new("RGB", (side, side))
    canvas.paste(frame.resize(size, Image.BILINEAR), (0, 0))
    return np.asarray(canvas, dtype=np.uint8), scale


def face_crop(frame, box):
    fw, fh = frame.size
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(fw, int(np.ceil(box[0] + box[2]))), min(fh, int(np.ceil(box[1] + box[3])))
    w, h = x1 - x0, y1 - y0
    side = max(w, h)
    canvas = Image.new("RGB", (side, side))
    canvas.paste(frame.crop((x0, y0, x1, y1)), ((side - w) // 2, (side - h) // 2))
    return np.asarray(canvas.resize((EXPR_SIDE, EXPR_SIDE), Image.BILINEAR), dtype=np.uint8)


def dense_block(x, w, first):
    if first:
        c = w["conv0/filters"]
        out1 = relu(conv(x, c, 2, same(x, 3, 2)) + w["conv0/bias"])
    else:
        p = {k: w[f"conv0/{k}"] for k in ("depthwise_filter", "pointwise_filter", "bias")}
        out1 = relu(separable(x, p, 2, same(x, 3, 2)))
    acc = out1
    for i in (1, 2, 3):
        p = {k: w[f"conv{i}/{k}"] for k in ("depthwise_filter", "pointwise_filter", "bias")}
        inp = relu(acc) if i > 1 else out1
        acc = acc + separable(inp, p, 1, same(inp, 3, 1))
    return relu(acc)


def expression_forward(w, crop):
    x = (crop.astype(np.float64) - EXPR_MEAN) / 255.0
    for b in range(4):
        x = dense_block(x, params(w, f"dense{b}"), b == 0)
    pooled = x.mean(axis=(0, 1))
    logits = pooled @ w["fc/weights"] + w["fc/bias"]
    e = np.exp(logits - logits.max())
    return e / e.sum()


def face_frame(path):
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = img.size
    if max(w, h) > FRAME_MAX:
        s = FRAME_MAX / max(w, h)
        img = img.resize((max(1, half_up(w * s)), max(1, half_up(h * s))), Image.BILINEAR)
    return img


def save(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = {np.uint8: "U8", np.float32: "F32"}[arr.dtype.type]
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tarball", required=True)
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()
    weights, _ = load(args.tarball)
    det = params(weights, "detector")
    expr = params(weights, "expression")
    tensors = {}
    for path in args.photos:
        stem = os.path.splitext(os.path.basename(path))[0]
        frame = face_frame(path)
        boxes, first = [], {}
        for side, fill, least in passes(frame):
            if side > 416 and not boxes:
                break
            inp, scale = letterbox(frame, side, fill)
            raw = detector_forward(det, inp)
            if (side, fill) == (416, 1.0):
                first = {f"{stem}.input416": inp, f"{stem}.raw416": raw.astype(np.float32)}
            boxes += [b for b in decode(raw, scale) if max(b[2], b[3]) >= least * max(frame.size)]
        kept = nms(boxes)
        if kept:
            tensors.update(first)
        crops = [face_crop(frame, b) for b in kept]
        probs = [expression_forward(expr, c) for c in crops]
        tensors[f"{stem}.frame_size"] = np.array(frame.size, dtype=np.float32)
        tensors[f"{stem}.boxes"] = np.array(kept, dtype=np.float32).reshape(-1, 5)
        tensors[f"{stem}.crops"] = np.array(crops, dtype=np.uint8).reshape(-1, EXPR_SIDE, EXPR_SIDE, 3)
        tensors[f"{stem}.expressions"] = np.array(probs, dtype=np.float32).reshape(-1, 7)
        labels = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
        desc = ", ".join(f"{labels[int(np.argmax(p))]} {b[4]:.2f} @{b[0]:.0f},{b[1]:.0f} {b[2]:.0f}x{b[3]:.0f}"
                         for b, p in zip(kept, probs))
        print(f"{stem}: {frame.size[0]}x{frame.size[1]}, {len(kept)} face(s): {desc}")
    here = os.path.dirname(os.path.abspath(__file__))
    save(os.path.join(here, "golden", "faces_golden.safetensors"), tensors,
         {"photos": ",".join(sorted(os.path.basename(p) for p in args.photos))})


if __name__ == "__main__":
    main()
