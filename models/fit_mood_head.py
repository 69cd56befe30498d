#!/usr/bin/env python3
"""Cross-validate and fit pixtape's learned mood head on the rated photo set.

The head corrects the current mapping (ImageNet classes -> mood, blended with
colour) rather than replacing it: for each output o (valence, arousal, the
twelve mood labels, the ten themes) it predicts the residual

    rating_o - prior_o

from the image's standardised inputs x = [pooled MobileNetV2 features (1280),
colour and light (5), the prior itself (24)], with ridge regression. With a
few hundred photos and 1,309 inputs, ridge is the size of model the data can
support: a linear map, shrunk toward "no correction" by the penalty. The
penalty is chosen per output group (affect, moods, themes) by an inner
cross-validation on the training folds only, from a fixed grid.

Evaluation is k-fold (k = 5) with folds fixed before any tuning: a photo's
fold is sha256(id) mod 5, so it never depends on the ratings or the fit. Every
figure is computed on out-of-fold predictions, for the current mapping (the
prior) and for the head, side by side.

Inputs: a pixtape run over the rated photos with features,

    python3 models/ratings/fetch_photos.py --out /tmp/rated
    pixtape analyze --images /tmp/rated --features --out /tmp/rated-run
    python3 models/fit_mood_head.py --run /tmp/rated-run [--write models/mood_head.safetensors]

Needs numpy and pyarrow. `--write` refits on every photo with the penalties
the whole-set inner validation picks and writes the head's tensors.
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

HERE = os.path.dirname(os.path.abspath(__file__))
MOODS = ["calm", "energetic", "happy", "melancholic", "romantic", "hopeful", "tense", "dreamy", "nostalgic",
         "epic", "playful", "mysterious"]
THEMES = ["nature", "urban", "night", "water", "party", "summer", "winter", "love", "travel", "sport"]
COLOUR = ["brightness", "contrast", "saturation", "warmth", "colourfulness"]
# Positions of the head's outputs in the 37-d mood vector.
DIMS = list(range(0, 2)) + list(range(2, 14)) + list(range(27, 37))
GROUPS = {"affect": slice(0, 2), "moods": slice(2, 14), "themes": slice(14, 24)}
LAMBDAS = [10.0 ** e for e in np.arange(1.0, 6.01, 0.5)]
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
    ids, F, C, P, Y = [], [], [], [], []
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
        C.append([img[c][n] for c in COLOUR])
        P.append([feats["prior"][fidx[image_id]][d] for d in DIMS])
        Y.append(y)
    missing = sorted(set(ratings) - set(ids))
    if missing:
        sys.exit(f"the run lacks {len(missing)} rated photos, e.g. {missing[:5]}")
    return ids, np.array(F), np.array(C), np.array(P), np.array(Y), ratings


def inputs(F, C, P):
    return np.hstack([F, C, P])


class Head:
    """Standardise, then ridge on the residual; the intercept is not penalised."""

    def fit(self, X, P, Y, lam):
        self.mean = X.mean(0)
        self.scale = X.std(0) + 1e-6
        Z = (X - self.mean) / self.scale
        R = Y - P
        self.bias = R.mean(0)
        Rc = R - self.bias
        self.weight = np.zeros((X.shape[1], Y.shape[1]))
        # Dual form: n x n instead of d x d.
        G = Z @ Z.T
        for name, sl in GROUPS.items():
            A = np.linalg.solve(G + lam[name] * np.eye(len(Z)), Rc[:, sl])
            self.weight[:, sl] = Z.T @ A
        return self

    def predict(self, X, P):
        return clamp(P + ((X - self.mean) / self.scale) @ self.weight + self.bias)


def clamp(Y):
    Y = Y.copy()
    Y[:, :2] = np.clip(Y[:, :2], -1, 1)
    Y[:, 2:] = np.clip(Y[:, 2:], 0, 1)
    return Y


def choose_lambdas(X, P, Y, folds):
    """Per group, the penalty with the least inner-CV squared error."""
    best = {}
    for name, sl in GROUPS.items():
        errs = []
        for lam in LAMBDAS:
            e = 0.0
            for f in sorted(set(folds)):
                tr, te = folds != f, folds == f
                h = Head().fit(X[tr], P[tr], Y[tr], {g: lam for g in GROUPS})
                e += ((h.predict(X[te], P[te])[:, sl] - Y[te][:, sl]) ** 2).sum()
            errs.append(e)
        best[name] = LAMBDAS[int(np.argmin(errs))]
    return best


def top_moods(pred, offset):
    return [MOODS[int(np.argmax(p[2:14] - offset))] for p in pred]


def choose_alpha(X, P, Y, folds, lam):
    """The top-mood discount: on out-of-fold predictions of the training
    photos alone, the alpha whose top moods agree best with the raters'
    first labels among those that put no label on top of more than
    MAX_TOP_SHARE of the photos (the smallest such alpha if none agrees)."""
    oof = np.zeros_like(Y)
    base = np.zeros((len(Y), 12))
    for f in sorted(set(folds)):
        tr, te = folds != f, folds == f
        oof[te] = Head().fit(X[tr], P[tr], Y[tr], lam).predict(X[te], P[te])
        base[te] = Y[tr][:, 2:14].mean(0)
    first = [int(np.argmax(y[2:14])) if y[2:14].any() else -1 for y in Y]
    best = None
    for a in ALPHAS:
        top = [int(np.argmax(p[2:14] - a * b)) for p, b in zip(oof, base)]
        share = max(np.bincount(top, minlength=12)) / len(top)
        # Agreement with any rated label, as first labels are not stored in Y.
        agree = np.mean([Y[k, 2 + t] for k, t in enumerate(top) if first[k] >= 0])
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


def report(name, pred, Y, ratings, ids, offsets=None):
    v_true = np.array([float(ratings[i]["valence"]) for i in ids])
    a_true = np.array([float(ratings[i]["arousal"]) for i in ids])
    offsets = np.zeros((len(ids), 12)) if offsets is None else offsets
    top = [MOODS[int(np.argmax(p[2:14] - o))] for p, o in zip(pred, offsets)]
    labels = [[x for x in ratings[i]["labels"].split(",") if x] for i in ids]
    rated = [k for k, l in enumerate(labels) if l]
    first = np.mean([top[k] == labels[k][0] for k in rated])
    any_ = np.mean([top[k] in labels[k] for k in rated])
    counts = {m: top.count(m) for m in MOODS}
    return {
        "mapping": name,
        "spearman_valence": spearman(pred[:, 0], v_true),
        "spearman_arousal": spearman(pred[:, 1], a_true),
        # High arousal: rated 5 or more against 3 or less; positive valence: 6+ against 4-.
        "auc_arousal_high_vs_low": auc(pred[:, 1][(a_true >= 5) | (a_true <= 3)], (a_true >= 5)[(a_true >= 5) | (a_true <= 3)]),
        "auc_valence_pos_vs_neg": auc(pred[:, 0][(v_true >= 6) | (v_true <= 4)], (v_true >= 6)[(v_true >= 6) | (v_true <= 4)]),
        "top_mood_is_first_label": float(first),
        "top_mood_in_labels": float(any_),
        "largest_top_mood_share": max(counts.values()) / len(top),
        "top_mood_counts": counts,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="pixtape output folder over the rated photos, with --features")
    ap.add_argument("--ratings", default=os.path.join(HERE, "ratings", "ratings.tsv"))
    ap.add_argument("--write", help="write the head fitted on every photo to this safetensors file")
    ap.add_argument("--json", help="write the cross-validated table as JSON here")
    args = ap.parse_args()
    ids, F, C, P, Y, ratings = load(args.run, args.ratings)
    X = inputs(F, C, P)
    folds = np.array([fold_of(i) for i in ids])
    oof = np.zeros_like(Y)
    offsets = np.zeros((len(ids), 12))
    chosen = []
    for f in range(K):
        tr, te = folds != f, folds == f
        # Inner folds: the training photos' own folds, never the test fold.
        lam = choose_lambdas(X[tr], P[tr], Y[tr], folds[tr])
        alpha = choose_alpha(X[tr], P[tr], Y[tr], folds[tr], lam)
        chosen.append({**{k: float(v) for k, v in lam.items()}, "alpha": alpha})
        oof[te] = Head().fit(X[tr], P[tr], Y[tr], lam).predict(X[te], P[te])
        offsets[te] = alpha * Y[tr][:, 2:14].mean(0)
    rows = [report("current", clamp(P), Y, ratings, ids), report("learned head", oof, Y, ratings, ids, offsets)]
    print(f"{len(ids)} rated photos, {K} folds of sizes {[int((folds == f).sum()) for f in range(K)]}")
    print(f"penalties and top-mood alpha chosen per fold: {chosen}")
    keys = [k for k in rows[0] if k not in ("mapping", "top_mood_counts")]
    print(f"{'':28}" + "".join(f"{r['mapping']:>16}" for r in rows))
    for k in keys:
        print(f"{k:28}" + "".join(f"{r[k]:16.3f}" for r in rows))
    for r in rows:
        c = sorted(r["top_mood_counts"].items(), key=lambda kv: -kv[1])
        print(f"top moods, {r['mapping']}: " + ", ".join(f"{m} {n}" for m, n in c if n))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"folds": K, "photos": len(ids), "penalties": chosen, "rows": rows}, f, indent=1)
    if args.write:
        lam = choose_lambdas(X, P, Y, folds)
        alpha = choose_alpha(X, P, Y, folds, lam)
        h = Head().fit(X, P, Y, lam)
        save_safetensors(
            args.write,
            {"mood_head.mean": h.mean, "mood_head.scale": h.scale, "mood_head.weight": h.weight,
             "mood_head.bias": h.bias, "mood_head.top_offset": alpha * Y[:, 2:14].mean(0)},
            {"inputs": "features[1280],colour[5],prior[24]", "outputs": "valence,arousal,moods[12],themes[10]",
             "penalties": json.dumps({k: float(v) for k, v in lam.items()}), "top_alpha": str(alpha),
             "photos": str(len(ids))},
        )
        print(f"wrote {args.write} (penalties {lam}, top-mood alpha {alpha})")


if __name__ == "__main__":
    main()
