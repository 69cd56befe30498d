#!/usr/bin/env python3
"""Cross-validate and fit pixtape's learned mood head on the rated photo set.

The head corrects the current mapping (ImageNet classes -> mood, blended with
colour) rather than replacing it: for each output o (valence, arousal, the
twelve mood labels, the ten themes) it predicts the residual

    rating_o - prior_o

from the image's standardised inputs x = [pooled MobileNetV2 features (1280),
colour and light (5), intensity cues (9), the prior itself (24)]. Three heads
are compared (head_models.py): ridge without the cues, ridge with them, and
a one-hidden-layer MLP with them; each one's regularisation is chosen by an
inner cross-validation on the training folds only, from a fixed grid.

Evaluation is k-fold (k = 5) with folds fixed before any tuning: a photo's
fold is sha256(id) mod 5, so it never depends on the ratings or the fit. Every
figure is computed on out-of-fold predictions, overall and for the night,
people and intense slices of ratings.tsv. `--unseen ID` adds the same table
for the photos from ID on, with the run's own outputs (the head the binary
shipped with) beside them.

Inputs: a pixtape run over the rated photos with features,

    python3 models/ratings/fetch_photos.py --out /tmp/rated
    pixtape analyze --images /tmp/rated --features --out /tmp/rated-run
    python3 models/fit_mood_head.py --run /tmp/rated-run [--write models/mood_head.safetensors]

Needs numpy and pyarrow. `--write` refits the kept head (kernel ridge with
the cues) on every photo with the settings the whole-set inner validation
picks and writes the head's tensors.
"""
import argparse
import csv
import hashlib
import json
import os
import sys

import numpy as np
import pyarrow.parquet as pq

from convert import save_safetensors  # the one reproducible writer of this folder
from head_models import GROUPS, KernelRidge, Mlp, Ridge, choose, clamp

HERE = os.path.dirname(os.path.abspath(__file__))
MOODS = ["calm", "energetic", "happy", "melancholic", "romantic", "hopeful", "tense", "dreamy", "nostalgic",
         "epic", "playful", "mysterious"]
THEMES = ["nature", "urban", "night", "water", "party", "summer", "winter", "love", "travel", "sport"]
COLOUR = ["brightness", "contrast", "saturation", "warmth", "colourfulness"]
# The intensity cues (src/engine/cues), in the head's input order after the colour.
CUES = ["edge_density", "texture_energy", "clutter", "point_lights", "light_trails", "region_contrast",
        "motion_blur", "sky_share", "people"]
# The face inputs (src/engine/faces, `head_inputs`), after the cues: the
# expression mix of the largest faces, ln(1 + the face count), the share
# of the picture the faces cover; zeros without faces.
FACES = ["face_neutral", "face_happy", "face_sad", "face_surprise", "face_fear", "face_disgust", "face_angry",
         "face_count_log", "face_area"]
# Positions of the head's outputs in the 37-d mood vector.
DIMS = list(range(0, 2)) + list(range(2, 14)) + list(range(27, 37))
# How much of each label's base rate the top-mood choice discounts.
ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]
# No label should be the top mood of more than this share of a varied set.
MAX_TOP_SHARE = 1 / 3
K = 5


def fold_of(photo_id):
    return int(hashlib.sha256(photo_id.encode()).hexdigest(), 16) % K


def load(run, ratings_path):
    ratings = {r["id"]: r for r in csv.DictReader(open(ratings_path), delimiter="\t")}
    img = pq.read_table(os.path.join(run, "images.parquet")).to_pydict()
    feats = pq.read_table(os.path.join(run, "features.parquet")).to_pydict()
    fidx = {i: n for n, i in enumerate(feats["image_id"])}
    ids, F, C, P, Y, S, T, A = [], [], [], [], [], [], [], []
    for n, image_id in enumerate(img["image_id"]):
        pid = os.path.splitext(os.path.basename(image_id))[0]
        if pid not in ratings:
            continue
        r = ratings[pid]
        labels = [x for x in r["labels"].split(",") if x]
        themes = [x for x in r["themes"].split(",") if x]
        y = [(float(r["valence"]) - 5) / 4, (float(r["arousal"]) - 5) / 4]
        y += [1.0 if m in labels else 0.0 for m in MOODS]
        y += [1.0 if t in themes else 0.0 for t in THEMES]
        ids.append(pid)
        F.append(feats["features"][fidx[image_id]])
        C.append([img[c][n] for c in COLOUR + CUES])
        mix = img.get("face_mix", [None] * (n + 1))[n]
        count = img.get("faces", [None] * (n + 1))[n]
        area = img.get("face_area", [None] * (n + 1))[n]
        A.append(list(mix or [0.0] * 7) + [float(np.log1p(count or 0)), float(area or 0.0)])
        P.append([feats["prior"][fidx[image_id]][d] for d in DIMS])
        # What the run itself reported: the head the binary shipped with.
        S.append([img["mood_vector"][n][d] for d in DIMS])
        T.append(img["mood_label"][n])
        Y.append(y)
    missing = sorted(set(ratings) - set(ids))
    if missing:
        sys.exit(f"the run lacks {len(missing)} rated photos, e.g. {missing[:5]}")
    return ids, np.array(F), np.array(C), np.array(A), np.array(P), np.array(Y), (np.array(S), T), ratings


def inputs(F, C, A, P, cues=True, faces=True):
    """The head's inputs; without cues (or faces) their columns are
    constant, which standardises to zero, so the same head shape reads no
    cue (or face)."""
    C, A = C.copy(), A.copy()
    if not cues:
        C[:, len(COLOUR):] = 0.0
    if not faces:
        A[:] = 0.0
    return np.hstack([F, C, A, P])


def choose_alpha(model, X, P, Y, folds, reg):
    """The top-mood discount: on out-of-fold predictions of the training
    photos alone, the alpha whose top moods agree best with the raters'
    labels among those that put no label on top of more than MAX_TOP_SHARE
    of the photos (the smallest such alpha if none agrees)."""
    oof = np.zeros_like(Y)
    base = np.zeros((len(Y), 12))
    for f in sorted(set(folds)):
        tr, te = folds != f, folds == f
        oof[te] = model().fit(X[tr], P[tr], Y[tr], reg).predict(X[te], P[te])
        base[te] = Y[tr][:, 2:14].mean(0)
    best = None
    for a in ALPHAS:
        top = [int(np.argmax(p[2:14] - a * b)) for p, b in zip(oof, base)]
        share = max(np.bincount(top, minlength=12)) / len(top)
        rated = [k for k in range(len(Y)) if Y[k, 2:14].any()]
        agree = np.mean([Y[k, 2 + top[k]] for k in rated])
        key = (share <= MAX_TOP_SHARE, agree, -a)
        if best is None or key > best[0]:
            best = (key, a)
    return best[1]


def rank(x):
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    # Average ranks of ties.
    for v in np.unique(x):
        m = x == v
        r[m] = r[m].mean()
    return r


def spearman(a, b):
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def auc(score, positive):
    pos, neg = score[positive], score[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    r = rank(np.concatenate([pos, neg]))
    return float((r[: len(pos)].sum() - len(pos) * (len(pos) - 1) / 2) / (len(pos) * len(neg)))


def affect_scores(pred, v_true, a_true):
    """Rank correlations and the two AUCs: arousal rated 6+ against 4-,
    valence rated 6+ against 4-."""
    ha, hv = (a_true >= 6) | (a_true <= 4), (v_true >= 6) | (v_true <= 4)
    return {
        "spearman_valence": spearman(pred[:, 0], v_true) if len(set(v_true)) > 1 else float("nan"),
        "spearman_arousal": spearman(pred[:, 1], a_true) if len(set(a_true)) > 1 else float("nan"),
        "auc_arousal_6_vs_4": auc(pred[:, 1][ha], (a_true >= 6)[ha]),
        "auc_valence_6_vs_4": auc(pred[:, 0][hv], (v_true >= 6)[hv]),
    }


def slices(ratings, ids):
    """The rated photos of each slice the table breaks down: night scenes,
    people, intense scenes (arousal 6+)."""
    r = [ratings[i] for i in ids]
    return {
        "night": np.array([x["time"] == "night" for x in r]),
        "people": np.array([x["people"] != "none" for x in r]),
        "intense": np.array([float(x["arousal"]) >= 6 for x in r]),
    }


def report(name, pred, Y, ratings, ids, offsets=None, top=None):
    v_true = np.array([float(ratings[i]["valence"]) for i in ids])
    a_true = np.array([float(ratings[i]["arousal"]) for i in ids])
    offsets = np.zeros((len(ids), 12)) if offsets is None else offsets
    if top is None:
        top = [MOODS[int(np.argmax(p[2:14] - o))] for p, o in zip(pred, offsets)]
    labels = [[x for x in ratings[i]["labels"].split(",") if x] for i in ids]
    rated = [k for k, l in enumerate(labels) if l]
    counts = {m: top.count(m) for m in MOODS}
    row = {"mapping": name, **affect_scores(pred, v_true, a_true)}
    row["mean_abs_error_arousal"] = float(np.mean(np.abs(pred[:, 1] * 4 + 5 - a_true)))
    row["top_mood_is_first_label"] = float(np.mean([top[k] == labels[k][0] for k in rated]))
    row["top_mood_in_labels"] = float(np.mean([top[k] in labels[k] for k in rated]))
    row["largest_top_mood_share"] = max(counts.values()) / len(top)
    row["slices"] = {}
    for sname, m in slices(ratings, ids).items():
        k = [j for j in rated if m[j]]
        row["slices"][sname] = {
            "photos": int(m.sum()),
            **affect_scores(pred[m], v_true[m], a_true[m]),
            "mean_arousal_rated": float(np.mean((a_true[m] - 5) / 4)) if m.any() else float("nan"),
            "mean_arousal_predicted": float(np.mean(pred[m, 1])) if m.any() else float("nan"),
            "top_mood_in_labels": float(np.mean([top[j] in labels[j] for j in k])) if k else float("nan"),
        }
    row["top_mood_counts"] = counts
    return row


# (name, model, cues, faces)
VARIANTS = [("ridge", Ridge, False, False), ("ridge + cues", Ridge, True, False),
            ("kernel ridge + cues", KernelRidge, True, False), ("mlp + cues", Mlp, True, False),
            ("kernel ridge + cues + faces", KernelRidge, True, True)]
# The cue columns of the inputs: after the 1,280 features and the colour;
# the face columns after them.
CUE_COLUMNS = slice(1280 + len(COLOUR), 1280 + len(COLOUR) + len(CUES))
FACE_COLUMNS = slice(CUE_COLUMNS.stop, CUE_COLUMNS.stop + len(FACES))


def cross_validate(model, X, P, Y, folds):
    """Out-of-fold predictions and top-mood offsets, every choice made on
    the training folds only."""
    oof = np.zeros_like(Y)
    offsets = np.zeros((len(Y), 12))
    chosen = []
    for f in range(K):
        tr, te = folds != f, folds == f
        reg = choose(model, X[tr], P[tr], Y[tr], folds[tr], per_group=model is Ridge)
        alpha = choose_alpha(model, X[tr], P[tr], Y[tr], folds[tr], reg)
        chosen.append({"regularisation": reg, "alpha": alpha})
        oof[te] = model().fit(X[tr], P[tr], Y[tr], reg).predict(X[te], P[te])
        offsets[te] = alpha * Y[tr][:, 2:14].mean(0)
    return oof, offsets, chosen


def print_table(rows):
    keys = [k for k in rows[0] if k not in ("mapping", "top_mood_counts", "slices")]
    print(f"{'':28}" + "".join(f"{r['mapping']:>20}" for r in rows))
    for k in keys:
        print(f"{k:28}" + "".join(f"{r[k]:20.3f}" for r in rows))
    for sname in rows[0]["slices"]:
        print(f"-- {sname} ({rows[0]['slices'][sname]['photos']} photos)")
        for k in [k for k in rows[0]["slices"][sname] if k != "photos"]:
            print(f"  {k:26}" + "".join(f"{r['slices'][sname][k]:20.3f}" for r in rows))
    for r in rows:
        c = sorted(r["top_mood_counts"].items(), key=lambda kv: -kv[1])
        print(f"top moods, {r['mapping']}: " + ", ".join(f"{m} {n}" for m, n in c if n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="pixtape output folder over the rated photos, with --features")
    ap.add_argument("--ratings", default=os.path.join(HERE, "ratings", "ratings.tsv"))
    ap.add_argument("--write", help="write the kept head (kernel ridge + cues + faces) fitted on every photo to this safetensors file")
    ap.add_argument("--json", help="write the cross-validated table as JSON here")
    ap.add_argument("--variants", default=",".join(v[0] for v in VARIANTS), help="which heads to compare")
    ap.add_argument("--unseen", help="also report on the photos with ids from this one on (those the shipped "
                    "head was not fitted on), adding the shipped head's own outputs from the run")
    args = ap.parse_args()
    ids, F, C, A, P, Y, (S, shipped_top), ratings = load(args.run, args.ratings)
    print(f"photos with faces: {int((A[:, 7] > 0).sum())}")
    folds = np.array([fold_of(i) for i in ids])
    print(f"{len(ids)} rated photos, {K} folds of sizes {[int((folds == f).sum()) for f in range(K)]}")
    preds, chosen = [("current", clamp(P), None)], {}
    for name, model, cues, faces in VARIANTS:
        if name not in args.variants.split(","):
            continue
        Ridge.boosted = CUE_COLUMNS if cues else slice(0, 0)
        KernelRidge.boosted = FACE_COLUMNS if faces else slice(0, 0)
        oof, offsets, chosen[name] = cross_validate(model, inputs(F, C, A, P, cues, faces), P, Y, folds)
        preds.append((name, oof, offsets))
        print(f"{name}: chosen per fold {chosen[name]}", flush=True)
    rows = [report(n, p, Y, ratings, ids, o) for n, p, o in preds]
    print_table(rows)
    unseen_rows = None
    if args.unseen:
        m = np.array([i >= args.unseen for i in ids])
        sub = [i for i in ids if i >= args.unseen]
        # The shipped head's top mood is the one the run reported.
        top = [t for t, k in zip(shipped_top, m) if k]
        unseen_rows = [report("shipped head", S[m], Y[m], ratings, sub, top=top)]
        unseen_rows += [report(n, p[m], Y[m], ratings, sub, None if o is None else o[m]) for n, p, o in preds]
        print(f"\n-- the {int(m.sum())} photos from {args.unseen} on")
        print_table(unseen_rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"folds": K, "photos": len(ids), "chosen": chosen, "rows": rows, "unseen": unseen_rows}, f,
                      indent=1, default=str)
    if args.write:
        KernelRidge.boosted = FACE_COLUMNS
        write_head(args.write, inputs(F, C, A, P, True, True), P, Y, folds, len(ids))


def write_head(path, X, P, Y, folds, photos):
    """Refit the kept head, kernel ridge with the cues and faces, on every photo with
    the settings the whole-set inner folds pick, and write its tensors: the
    standardisation, a zero linear map (the engine's feature term, which
    profiles and feedback adjust), the bias and the kernel's photos and
    weights."""
    setting = choose(KernelRidge, X, P, Y, folds)
    alpha = choose_alpha(KernelRidge, X, P, Y, folds, setting)
    h = KernelRidge().fit(X, P, Y, setting)
    save_safetensors(
        path,
        {"mood_head.mean": h.std.mean, "mood_head.scale": h.std.scale,
         "mood_head.weight": np.zeros((X.shape[1], Y.shape[1])), "mood_head.bias": h.bias,
         "mood_head.top_offset": alpha * Y[:, 2:14].mean(0), "mood_head.kernel_points": h.Z,
         "mood_head.kernel_alpha": h.alpha, "mood_head.kernel_gamma": np.array([h.gamma])},
        {"inputs": "features[1280],colour[5],cues[9],faces[9],prior[24]", "outputs": "valence,arousal,moods[12],themes[10]",
         "model": "kernel ridge, Gaussian kernel", "gamma_lambda": json.dumps([float(v) for v in setting]),
         "top_alpha": str(alpha), "photos": str(photos)},
    )
    print(f"wrote {path} (kernel ridge, gamma and penalty {setting}, top-mood alpha {alpha})")


if __name__ == "__main__":
    main()
