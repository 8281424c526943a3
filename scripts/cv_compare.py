"""Compare two `scripts.cv --save` runs on the same data: what a change did, mode by mode.

    python -m scripts.cv --confusions --save before.npz
    python -m scripts.cv --confusions --save after.npz --hp text_c=0.3
    python -m scripts.cv_compare before.npz after.npz

Per mode: top-1, top-3, macro-F1 and ECE before -> after; top-1 per outer fold and on how
many folds it rose (a change worth keeping wins on most); the binned ECE, the debiased
calibration error (`prodcat.metrics.debiased_calibration_error`) and the NLL, pooled and per
fold; the rows the change fixed and broke with McNemar's exact p-value (the same rows, so a
paired test says more than two accuracies); the classes whose F1 moved most; and the confusion
pairs whose count changed most.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, f1_score

from prodcat.metrics import (
    classification_metrics,
    debiased_calibration_error,
    expected_calibration_error,
    top_k_accuracy,
)
from scripts.cv import MODES

Metric = Callable[[np.ndarray, np.ndarray], float]  # (probabilities, labels) -> figure


def _nll(p: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (a probability of 0 counts as 1e-12)."""
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))


def _fold_moves(before: list[float], after: list[float]) -> str:
    lower = sum(a < b for a, b in zip(after, before, strict=True))
    return (
        f"{' '.join(f'{v:.3f}' for v in before)} -> {' '.join(f'{v:.3f}' for v in after)}"
        f" ({lower} of {len(after)} lower)"
    )


def compare_mode(
    before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], mode: str, top: int = 6
) -> list[str]:
    """The comparison of one mode, as lines of text ([] when neither run scored it)."""
    y, pb, pa = before[f"{mode}_y"], before[f"{mode}_p"], after[f"{mode}_p"]
    if len(y) == 0 or len(after[f"{mode}_y"]) == 0:
        return []
    if not np.array_equal(y, after[f"{mode}_y"]):
        raise ValueError(
            f"{mode}: the two runs scored different rows; compare runs on one data set"
        )
    classes = [str(c) for c in before["classes"]]
    n = len(classes)
    mb, ma = classification_metrics(pb, y, n), classification_metrics(pa, y, n)
    lines = [f"## {mode} ({len(y)} rows)"]
    for key in ("accuracy", "top3_accuracy", "macro_f1", "ece"):
        lines.append(f"{key:>14}: {mb[key]:.4f} -> {ma[key]:.4f} ({ma[key] - mb[key]:+.4f})")

    def per_fold(fn: Metric) -> tuple[list[float], list[float]]:
        """`fn` on each outer fold's rows, before and after."""

        def folds_of(p: np.ndarray, folds: np.ndarray) -> list[float]:
            return [fn(p[folds == k], y[folds == k]) for k in np.unique(folds)]

        return folds_of(pb, before[f"{mode}_fold"]), folds_of(pa, after[f"{mode}_fold"])

    fb, fa = per_fold(lambda p, y: top_k_accuracy(p, y, 1))
    wins = sum(a > b for a, b in zip(fa, fb, strict=True))
    ties = sum(a == b for a, b in zip(fa, fb, strict=True))
    lines.append(
        f"top-1 per fold: {' '.join(f'{v:.3f}' for v in fb)} -> {' '.join(f'{v:.3f}' for v in fa)}"
        f" ({wins} of {len(fa)} better, {ties} equal)"
    )
    # Calibration per fold too: a calibration change is judged by the folds it wins, and on
    # ~100 rows a fold's binned ECE is mostly noise, so the debiased estimate is beside it.
    lines.append(f"ECE per fold: {_fold_moves(*per_fold(expected_calibration_error))}")
    for name, fn in (("debiased CE", debiased_calibration_error), ("NLL", _nll)):
        pooled = f"{fn(pb, y):.4f} -> {fn(pa, y):.4f}"
        lines.append(f"{name}: {pooled}, per fold: {_fold_moves(*per_fold(fn))}")
    right_b, right_a = pb.argmax(axis=1) == y, pa.argmax(axis=1) == y
    fixed, broke = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    p_value = binomtest(fixed, fixed + broke).pvalue if fixed + broke else 1.0
    lines.append(f"rows fixed {fixed}, broken {broke} (McNemar exact p = {p_value:.3f})")
    labels = list(range(n))
    f1_b = f1_score(y, pb.argmax(axis=1), labels=labels, average=None, zero_division=0)
    f1_a = f1_score(y, pa.argmax(axis=1), labels=labels, average=None, zero_division=0)
    support = np.bincount(y, minlength=n)
    moved = [i for i in np.argsort(-np.abs(f1_a - f1_b), kind="stable") if support[i]][:top]
    lines.append(
        "F1 moves: "
        + "; ".join(
            f"{classes[i]} ({support[i]}) {f1_b[i]:.2f} -> {f1_a[i]:.2f}"
            for i in moved
            if f1_a[i] != f1_b[i]
        )
    )
    cb = confusion_matrix(y, pb.argmax(axis=1), labels=labels)
    ca = confusion_matrix(y, pa.argmax(axis=1), labels=labels)
    delta = ca - cb
    np.fill_diagonal(delta, 0)
    pairs = np.argsort(-np.abs(delta), axis=None, kind="stable")[:top]
    lines.append(
        "confusions changed: "
        + "; ".join(
            f"{classes[i]} -> {classes[j]} {cb[i, j]} -> {ca[i, j]}"
            for i, j in (np.unravel_index(o, delta.shape) for o in pairs)
            if delta[i, j]
        )
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--top", type=int, default=6, help="classes and pairs listed per mode")
    args = parser.parse_args(argv)
    before, after = np.load(args.before), np.load(args.after)
    for mode in MODES:
        lines = compare_mode(before, after, mode, args.top)
        if lines:
            print("\n".join(lines), end="\n\n")


if __name__ == "__main__":
    main()
