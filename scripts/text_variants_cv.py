"""Screen text-head variants: top-1 and top-3 of one SVM per outer fold of `scripts.cv --text-only`
(same folds), over the default TextHead's features, each variant against the default's SVM.

Uncalibrated and without the inner folds, so compare its figures only among themselves. Variants:
the e5 block's weight, the SVM's C, class_weight="balanced", and a kNN vote over the e5
embeddings (cosine, the k nearest training rows, softmax(similarity / 0.05) weights) added to
the SVM's scores.

    python -m scripts.text_variants_cv [--hp NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.svm import LinearSVC

from prodcat.model import Hyperparameters, TextHead
from prodcat.training import _folds
from scripts.cv import cached_training_set


def knn_votes(sim: np.ndarray, y_train: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """Each row's class shares among its k most similar training rows."""
    nearest = np.argsort(-sim, axis=1)[:, :k]
    votes = np.zeros((len(sim), n_classes))
    for r, idx in enumerate(nearest):
        np.add.at(votes[r], y_train[idx], np.exp(sim[r, idx] / 0.05))
    return votes / votes.sum(axis=1, keepdims=True)


def top_k(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    order = np.argsort(-scores, axis=1)
    return float(np.mean(order[:, 0] == y)), float(np.mean((order[:, :3] == y[:, None]).any(1)))


def svm_scores(
    x: tuple[Any, Any],
    emb: tuple[np.ndarray, np.ndarray],
    y: np.ndarray,
    n_classes: int,
    e5_weight: float,
    c: float,
    **kw: Any,
) -> np.ndarray:
    """Held-out scores of one SVM on the TF-IDF blocks `x` (train, test) and e5 at `e5_weight`."""
    train, test = (
        hstack([t, csr_matrix(e * e5_weight)]).tocsr() for t, e in zip(x, emb, strict=True)
    )
    model = LinearSVC(C=c, random_state=0, **kw).fit(train, y)
    out = np.full((test.shape[0], n_classes), -10.0)
    out[:, model.classes_] = model.decision_function(test)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--cache", type=Path, default=Path(".work/cv"))
    parser.add_argument("--hp", action="append", default=[], help="NAME=VALUE, repeatable")
    args = parser.parse_args(argv)
    hp = Hyperparameters.from_json(dict(kv.split("=", 1) for kv in args.hp))
    data = cached_training_set(args.data, args.cache, hp)
    data = data.subset(data.text_rows)
    y, emb, n_classes = data.y, data.embeddings, len(data.taxonomy)
    scores: dict[str, list[tuple[float, float]]] = {}
    for train, test in _folds(y, 5, hp.seed + 1000):
        # The TF-IDF blocks alone (no e5 columns): each variant adds e5 at its own weight.
        head, no_e5 = TextHead(hp), np.zeros((len(y), 0))
        x = (
            head.features([data.texts[i] for i in train], no_e5[train], fit=True),
            head.features([data.texts[i] for i in test], no_e5[test]),
        )
        e = (emb[train], emb[test])
        w, c = hp.e5_weight, hp.text_c
        base = svm_scores(x, e, y[train], n_classes, w, c)
        variants = {
            "default": base,
            "balanced": svm_scores(x, e, y[train], n_classes, w, c, class_weight="balanced"),
            "e5_weight 1.5": svm_scores(x, e, y[train], n_classes, 1.5, c),
            "e5_weight 3": svm_scores(x, e, y[train], n_classes, 3.0, c),
            "C 0.3": svm_scores(x, e, y[train], n_classes, w, 0.3),
            "C 1": svm_scores(x, e, y[train], n_classes, w, 1.0),
        }
        for k in (10, 20):
            votes = knn_votes(emb[test] @ emb[train].T, y[train], k, n_classes)
            variants[f"kNN{k} alone"] = votes
            for share in (0.25, 0.5, 1.0):
                variants[f"default + {share} kNN{k}"] = base + share * votes
        for name, s in variants.items():
            scores.setdefault(name, []).append(top_k(s, y[test]))
    default = np.array(scores["default"])
    for name, per_fold in scores.items():
        a = np.array(per_fold)
        d1, d3 = (" ".join(f"{d:+.3f}" for d in a[:, j] - default[:, j]) for j in (0, 1))
        print(
            f"{name}: top-1 {a[:, 0].mean():.4f} top-3 {a[:, 1].mean():.4f}; per fold vs default:"
        )
        print(f"  top-1 {d1}; top-3 {d3}", flush=True)


if __name__ == "__main__":
    main()
