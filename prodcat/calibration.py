"""Temperature scaling: one scalar per input mode, fitted on held-out (out-of-fold) predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    return float(-np.mean(log_softmax(logits / temperature, axis=1)[np.arange(len(y)), y]))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the NLL of softmax(logits / T); 1.0 when there is no data."""
    if len(y) == 0:
        return 1.0
    res = minimize_scalar(
        lambda log_t: nll(logits, y, float(np.exp(log_t))), bounds=(-5.0, 5.0), method="bounded"
    )
    return float(np.exp(res.x))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(log_softmax(logits / temperature, axis=1))


# Top-1 (top-label) Platt scaling, after the temperature. One temperature cannot fit an SVM's
# scores at both ends: cross-validated on the dev data the text head was underconfident below
# 0.5 (0.17 said, 0.37 right) and overconfident at the top (0.985 said, 0.949 right), ECE 0.054
# at the best temperature. A two-parameter map of the top-1 probability's logit fixes both
# (ECE 0.012-0.016, cross-fitted); the other classes share the rest in their old proportions,
# so the ranking and the sum stay.
IDENTITY = (1.0, 0.0)
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def fit_top1(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of  c' = sigmoid(a * logit(c) + b)  for the top-1 probability c, by log-loss on
    whether the top-1 class is right; the identity without data or with one outcome only."""
    correct = probs.argmax(axis=1) == y
    if len(y) == 0 or correct.all() or not correct.any():
        return IDENTITY
    x = _logit(probs.max(axis=1))
    # A slope bounded above 0: the map must keep more confident meaning more likely right.
    res = minimize(
        lambda w: float(np.mean(np.logaddexp(0.0, -(2 * correct - 1) * (w[0] * x + w[1])))),
        np.array(IDENTITY),
        method="L-BFGS-B",
        bounds=[(0.05, 20.0), (-10.0, 10.0)],
    )
    return float(res.x[0]), float(res.x[1])


def recalibrate_top1(probs: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """Probabilities with the top-1 mapped by `fit_top1`'s (a, b), the rest rescaled to sum 1.

    The new top-1 never drops below the second class's new probability, so the order stays.
    """
    if len(probs) == 0 or tuple(ab) == IDENTITY:
        return probs
    c = probs.max(axis=1)
    return with_top1(probs, 1.0 / (1.0 + np.exp(-(ab[0] * _logit(c) + ab[1]))))


def with_top1(probs: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Probabilities with each row's top-1 set to `new` (raised where needed so that it stays
    the top), the other classes rescaled in their old proportions to sum 1 with it."""
    rows = np.arange(len(probs))
    top = probs.argmax(axis=1)
    others = probs.copy()
    others[rows, top] = 0.0
    # The others' own sum, not 1 - c: for a top-1 within _EPS of 1 the clamped 1 - c left sums
    # off 1 by up to 1e-6 (a CI run caught 1 - 1.6e-7 on a confident listing).
    rest = others.sum(axis=1)
    second = others.max(axis=1)
    # top' >= second' = second * (1 - top') / rest  <=>  top' >= second / (rest + second)
    # (a hair above, so that a tie cannot hand the top to a class listed earlier)
    floor = np.divide(second, rest + second, out=np.zeros_like(rest), where=rest > 0)
    new = np.where(rest > 0, np.maximum(new, np.minimum(floor + 1e-9, 1.0)), 1.0)
    # The others' shares first, then their new mass: (1 - new) / rest overflowed to inf (and
    # 0 * inf to nan) when a photo far outside the training data left a rest near 1e-308.
    share = np.divide(others, rest[:, None], out=np.zeros_like(others), where=rest[:, None] > 0)
    out = share * (1.0 - new)[:, None]
    out[rows, top] = new
    return out


# Vector scaling of the photo head's log-probabilities, after its temperature: per class a
# scale s_k and a bias b_k, softmax again, with an L2 pull toward the identity
# lam * (|s - 1|^2 + |b|^2) on the mean NLL (Kull et al. 2019's ODIR, diagonal). The regression
# averaged over folds is right overall but not per class, which one temperature cannot move.
# `scripts.calibration_variants_cv` (the outer folds of `scripts.cv`, fitted on the inner
# out-of-fold photo rows): photo top-1 0.452 -> 0.461 (4 of 5 folds better, McNemar p 0.049),
# NLL 1.937 -> 1.919 (5 of 5); with the fusion reading the mapped photo, text+photo NLL
# 0.828 -> 0.815 (5 of 5), top-1 0.759 -> 0.763; the full `scripts.cv` reproduced both, and on
# top of the NB-SVM text share read text+photo NLL 0.823 -> 0.812 (5 of 5), ECE 0.050 -> 0.040,
# top-1 0.765 -> 0.761 (2 rows fixed, 4 broken: noise) (README: "The model").
VECTOR_LAMS = (1e-4, 1e-3, 1e-2, 1e-1)
# The photo head's log-probabilities are floored at log(1e-12) (`ImageHead.logits`): so are the
# map's inputs, so that a scale never multiplies a temperature's -inf-like tail.
LOG_FLOOR = float(np.log(1e-12))


@dataclass(frozen=True)
class VectorMap:
    """log p' = log_softmax(s * max(log p, LOG_FLOOR) + b), s and b per class index."""

    scale: tuple[float, ...]
    bias: tuple[float, ...]
    lam: float

    def apply(self, log_proba: np.ndarray) -> np.ndarray:
        z = np.maximum(log_proba, LOG_FLOOR) * np.asarray(self.scale) + np.asarray(self.bias)
        return log_softmax(z, axis=1)

    def to_json(self) -> dict[str, Any]:
        return {"scale": list(self.scale), "bias": list(self.bias), "lam": self.lam}

    @classmethod
    def from_json(cls, raw: dict[str, Any], n_classes: int) -> VectorMap:
        scale, bias = raw.get("scale", []), raw.get("bias", [])
        if len(scale) != n_classes or len(bias) != n_classes:
            raise ValueError(
                f"the manifest's photo vector map has {len(scale)} scales and {len(bias)} biases "
                f"for a taxonomy of {n_classes} classes: the manifest is damaged or belongs to "
                "another taxonomy; train the model again"
            )
        return cls(tuple(map(float, scale)), tuple(map(float, bias)), float(raw["lam"]))


def _fit_vector(lp: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """[s, b] minimising the mean NLL of log_softmax(lp * s + b) plus the pull toward identity."""
    n, k = lp.shape
    rows = np.arange(n)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = log_softmax(lp * w[:k] + w[k:], axis=1)
        g = np.exp(z)  # d(mean NLL)/dz = (p - onehot) / n
        g[rows, y] -= 1.0
        g /= n
        grad = np.r_[
            np.sum(g * lp, axis=0) + 2 * lam * (w[:k] - 1), g.sum(axis=0) + 2 * lam * w[k:]
        ]
        pen = lam * (np.sum((w[:k] - 1) ** 2) + np.sum(w[k:] ** 2))
        return float(-np.mean(z[rows, y]) + pen), grad

    return minimize(loss, np.r_[np.ones(k), np.zeros(k)], jac=True, method="L-BFGS-B").x


def fit_vector_map(
    log_proba: np.ndarray,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    lams: Sequence[float] = VECTOR_LAMS,
) -> VectorMap | None:
    """`VectorMap` on these rows (the photo's temperature-scaled out-of-fold log-probabilities),
    its pull picked from `lams` by the held-out NLL over `folds`; None without data."""
    if len(y) == 0:
        return None
    lp, k = np.maximum(log_proba, LOG_FLOOR), log_proba.shape[1]

    def held_nll(lam: float) -> float:
        total = 0.0
        for train, test in folds:
            w = _fit_vector(lp[train], y[train], lam)
            z = log_softmax(lp[test] * w[:k] + w[k:], axis=1)
            total -= z[np.arange(len(test)), y[test]].sum()
        return total / len(y)

    lam = min(lams, key=held_nll)
    w = _fit_vector(lp, y, lam)
    return VectorMap(tuple(map(float, w[:k])), tuple(map(float, w[k:])), float(lam))
