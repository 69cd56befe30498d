"""The mood-head models `fit_mood_head.py` compares, all predicting the
residual `rating - prior` of the 24 outputs from standardised inputs.

* `Ridge`: a linear map, penalty per output group (affect, moods, themes),
  solved in the dual (n x n) since inputs outnumber photos. A few measured
  cues sit among 1,280 pooled features; one shared penalty would drown
  them, so their standardised columns are scaled up by a boost (a smaller
  penalty on them), chosen with the penalties. The boost folds into the
  stored scale, so the head that runs is still `(x − mean) / scale · W`.
* `KernelRidge`: kernel ridge regression with a Gaussian (RBF) kernel on
  all standardised inputs, `k(z, z') = exp(−γ ‖z − z'‖² / d)`: a smooth
  non-linear map that, unlike the MLP, has a closed-form fit, so its two
  settings (γ and the penalty) are all there is to choose, plus a boost of
  the columns the caller names (the faces: nine inputs among 1,327 would
  hardly move a distance), folded into the stored scale as for ridge.
* `Mlp`: one hidden layer of ReLU units beside a linear path (so that with
  the hidden layer silenced it is ridge), trained full-batch with Adam on
  the mean squared error plus an L2 penalty; a fixed seed and step count
  make it deterministic.

Both take the penalty from an inner cross-validation on the training folds
only (`choose`), from a fixed grid.
"""
import numpy as np

GROUPS = {"affect": slice(0, 2), "moods": slice(2, 14), "themes": slice(14, 24)}
RIDGE_LAMBDAS = [10.0 ** e for e in np.arange(1.0, 6.01, 0.5)]
RIDGE_BOOSTS = [1.0, 3.0, 10.0]
# In ridge units: the loss is MSE + penalty / (n · outputs) · Σ weights².
MLP_PENALTIES = [1e2, 1e3, 1e4]
KRR_GRID = [(g, lam) for g in (0.25, 0.5, 1.0) for lam in (0.03, 0.1, 0.3, 1.0)]
KRR_BOOSTS = [1.0, 3.0, 10.0]
MLP_HIDDEN = 32
MLP_STEPS = 300


def clamp(Y):
    Y = Y.copy()
    Y[:, :2] = np.clip(Y[:, :2], -1, 1)
    Y[:, 2:] = np.clip(Y[:, 2:], 0, 1)
    return Y


class Standardise:
    def __init__(self, X):
        self.mean = X.mean(0)
        self.scale = X.std(0) + 1e-6

    def __call__(self, X):
        return (X - self.mean) / self.scale


class Ridge:
    """Standardise, then ridge on the residual; the intercept is not penalised."""

    grid = RIDGE_LAMBDAS
    # Columns the boost applies to (set by the caller: the cues).
    boosted = slice(0, 0)

    def fit(self, X, P, Y, lam):
        if not isinstance(lam, dict):
            lam = {g: lam for g in GROUPS}
        self.std = Standardise(X)
        self.std.scale[self.boosted] /= lam.get("boost", 1.0)
        self.mean, self.scale = self.std.mean, self.std.scale
        Z = self.std(X)
        R = Y - P
        self.bias = R.mean(0)
        Rc = R - self.bias
        self.weight = np.zeros((X.shape[1], Y.shape[1]))
        G = Z @ Z.T
        for name, sl in GROUPS.items():
            A = np.linalg.solve(G + lam[name] * np.eye(len(Z)), Rc[:, sl])
            self.weight[:, sl] = Z.T @ A
        return self

    def predict(self, X, P):
        return clamp(P + self.std(X) @ self.weight + self.bias)


class KernelRidge:
    """y = prior + Σ_j α_j k(z, z_j) + b over the training photos z_j."""

    grid = KRR_GRID
    # Columns the boost applies to (set by the caller: the faces).
    boosted = slice(0, 0)

    def fit(self, X, P, Y, setting):
        gamma, lam, boost = (tuple(setting) + (1.0,))[:3]
        self.std = Standardise(X)
        self.std.scale[self.boosted] /= boost
        self.Z = self.std(X)
        self.gamma = gamma / self.Z.shape[1]
        R = Y - P
        self.bias = R.mean(0)
        self.alpha = np.linalg.solve(self.kernel(self.Z) + lam * np.eye(len(self.Z)), R - self.bias)
        return self

    def kernel(self, A):
        d = (A * A).sum(1)[:, None] + (self.Z * self.Z).sum(1)[None] - 2 * A @ self.Z.T
        return np.exp(-self.gamma * np.maximum(d, 0))

    def predict(self, X, P):
        return clamp(P + self.kernel(self.std(X)) @ self.alpha + self.bias)


class Mlp:
    """y = prior + z·L + relu(z·W1 + b1)·W2 + b, trained with Adam."""

    grid = MLP_PENALTIES

    def fit(self, X, P, Y, penalty, seed=0):
        self.std = Standardise(X)
        Z = self.std(X)
        R = Y - P
        n, d = Z.shape
        o = Y.shape[1]
        rng = np.random.default_rng(seed)
        params = {
            "L": np.zeros((d, o)),
            "W1": rng.normal(0, 1 / np.sqrt(d), (d, MLP_HIDDEN)),
            "b1": np.zeros(MLP_HIDDEN),
            "W2": rng.normal(0, 1 / np.sqrt(MLP_HIDDEN), (MLP_HIDDEN, o)) * 0.1,
            "b": R.mean(0),
        }
        m = {k: np.zeros_like(v) for k, v in params.items()}
        v = {k: np.zeros_like(x) for k, x in params.items()}
        lr, b1, b2 = 3e-3, 0.9, 0.999
        for t in range(1, MLP_STEPS + 1):
            pre = Z @ params["W1"] + params["b1"]
            H = np.maximum(pre, 0)
            out = Z @ params["L"] + H @ params["W2"] + params["b"]
            E = (out - R) * (2 / (n * o))
            decay = 2 * penalty / (n * o)
            g = {"L": Z.T @ E + decay * params["L"], "W2": H.T @ E + decay * params["W2"], "b": E.sum(0)}
            dH = (E @ params["W2"].T) * (pre > 0)
            g["W1"] = Z.T @ dH + decay * params["W1"]
            g["b1"] = dH.sum(0)
            for k in params:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
                params[k] -= lr * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + 1e-8)
        self.params = params
        return self

    def predict(self, X, P):
        Z = self.std(X)
        p = self.params
        return clamp(P + Z @ p["L"] + np.maximum(Z @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b"])


def inner_errors(model, X, P, Y, folds, settings):
    """Inner-CV squared error per setting and output group."""
    errs = np.zeros((len(settings), len(GROUPS)))
    for gi, g in enumerate(settings):
        for f in sorted(set(folds)):
            tr, te = folds != f, folds == f
            pred = model().fit(X[tr], P[tr], Y[tr], g).predict(X[te], P[te])
            for k, sl in enumerate(GROUPS.values()):
                errs[gi, k] += ((pred[:, sl] - Y[te][:, sl]) ** 2).sum()
    return errs


def choose(model, X, P, Y, folds, per_group=False):
    """The setting with the least inner-CV squared error. For ridge, a
    penalty per output group and one cue boost: the boost whose best
    per-group penalties leave the least error in all."""
    if not per_group:
        grid = model.grid
        if getattr(model, "boosted", slice(0, 0)) != slice(0, 0) and model is KernelRidge:
            grid = [(g, lam, b) for g, lam in model.grid for b in KRR_BOOSTS]
        errs = inner_errors(model, X, P, Y, folds, grid)
        return grid[int(np.argmin(errs.sum(1)))]
    boosts = RIDGE_BOOSTS if model.boosted != slice(0, 0) else [1.0]
    best = None
    for b in boosts:
        settings = [{**{g: lam for g in GROUPS}, "boost": b} for lam in model.grid]
        errs = inner_errors(model, X, P, Y, folds, settings)
        total = errs.min(0).sum()
        if best is None or total < best[0]:
            best = (total, {**{name: model.grid[int(np.argmin(errs[:, k]))] for k, name in enumerate(GROUPS)},
                            "boost": b})
    return best[1]
