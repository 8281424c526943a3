"""How the text head's accuracy grows with the number of labelled rows, and what it extrapolates to.

On each outer fold of `scripts.cv --text-only` (same folds), the default text head (its
vectorizer and SVM, fitted on the training part only) is trained on stratified subsets of the
fold's training rows and scored on the fold's held-out rows. The error of top-1 and top-3 is then
fitted as a power law of the row count, `error = a * n ** -b` (the usual shape of a learning
curve before it flattens), to say how many rows a target would take if the curve kept its slope:
an optimistic figure, since real curves flatten.

    python -m scripts.learning_curve [--fractions 0.25 0.5 0.75 1] [--target 0.77 0.92]

Top-1 and top-3 are those of the head's raw scores: the temperature and the top-1 Platt map
keep the order, so they are the calibrated model's too (up to the shipped fold average).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from prodcat.model import Hyperparameters, TextHead
from prodcat.training import _folds
from scripts.cv import cached_training_set
from scripts.text_variants_cv import top_k


def subset(train: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified `fraction` of the rows `train` (all of them at 1)."""
    if fraction >= 1:
        return train
    # A class with one row cannot be split: those rows stay in.
    counts = np.bincount(y[train])
    single = train[counts[y[train]] < 2]
    rest = train[counts[y[train]] >= 2]
    kept, _ = train_test_split(rest, train_size=fraction, stratify=y[rest], random_state=seed)
    return np.sort(np.concatenate([single, kept]))


def power_law(n: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """(a, b) of error = a * n ** -b, least squares in log-log."""
    slope, intercept = np.polyfit(np.log(n), np.log(error), 1)
    return float(np.exp(intercept)), float(-slope)


def rows_for(target: float, a: float, b: float) -> float:
    """Rows at which a * n ** -b falls to 1 - target (inf if the curve does not fall)."""
    return float((a / (1 - target)) ** (1 / b)) if b > 0 else float("inf")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--cache", type=Path, default=Path(".work/cv"))
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--target", type=float, nargs=2, default=[0.77, 0.92])
    args = parser.parse_args(argv)
    hp = Hyperparameters()
    data = cached_training_set(args.data, args.cache, hp)
    data = data.subset(data.text_rows)
    y, n_classes = data.y, len(data.taxonomy)
    # fraction -> per fold (training rows, top-1, top-3)
    results: dict[float, list[tuple[int, float, float]]] = {f: [] for f in args.fractions}
    for fold, (train, test) in enumerate(_folds(y, 5, hp.seed + 1000)):
        for fraction in args.fractions:
            rows = subset(train, y, fraction, seed=fold)
            head = TextHead(hp).fit([data.texts[i] for i in rows], data.embeddings[rows], y[rows])
            scores = head.logits([data.texts[i] for i in test], data.embeddings[test], n_classes)
            results[fraction].append((len(rows), *top_k(scores, y[test])))
            print(f"fold {fold + 1} fraction {fraction}: {results[fraction][-1]}", flush=True)
    n = np.array([np.mean([r[0] for r in results[f]]) for f in args.fractions])
    for j, (name, target) in enumerate(zip(("top-1", "top-3"), args.target, strict=True), 1):
        acc = np.array([np.mean([r[j] for r in results[f]]) for f in args.fractions])
        a, b = power_law(n, 1 - acc)
        curve = ", ".join(f"{int(k)} rows {v:.3f}" for k, v in zip(n, acc, strict=True))
        print(f"{name}: {curve}")
        print(
            f"  error = {a:.3f} * n^-{b:.3f}: {target} at ~{rows_for(target, a, b):,.0f} training "
            f"rows if the slope held (these folds train on {int(n[-1])})"
        )


if __name__ == "__main__":
    main()
