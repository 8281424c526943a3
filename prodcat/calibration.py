"""Temperature scaling: one scalar per input mode, fitted on held-out (out-of-fold) predictions."""

from __future__ import annotations

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
    out = others * np.divide(1.0 - new, rest, out=np.zeros_like(rest), where=rest > 0)[:, None]
    out[rows, top] = new
    return out
