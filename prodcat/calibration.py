"""Temperature scaling: one scalar per input mode, fitted on held-out (out-of-fold) predictions."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
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
