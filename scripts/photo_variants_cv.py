"""Screen the photo variants `scripts.photo_variants` encoded: top-1 of a photo head fitted once
per outer fold of `scripts.cv` (same folds), trained on one variant and scored on another.

Uncalibrated and without the inner folds, so compare its figures only among themselves.

    python -m scripts.photo_variants_cv base=squash-224:squash-224:avg \\
        trimmed=squash-224:trim-letterbox-224:avg stage6=squash-224:squash-224:avg+s6avg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from prodcat.data import load_listings
from prodcat.model import Hyperparameters, ImageHead
from prodcat.training import _folds
from prodcat_contracts.taxonomy import load_taxonomy
from scripts.photo_variants import OUT

Folds = list[tuple[np.ndarray, np.ndarray]]


def photo_folds(data_dir: Path, has: np.ndarray) -> tuple[np.ndarray, np.ndarray, Folds]:
    """The rows of the training set `scripts.cv` builds (text or a usable photo: `has`, per
    listing), their labels, and `scripts.cv`'s outer folds cut to the rows with a photo."""
    taxonomy = load_taxonomy(data_dir)
    listings, _ = load_listings(data_dir, taxonomy)
    kept = np.array([i for i, x in enumerate(listings) if x.has_text or has[i]])
    y = np.array([taxonomy.index_of(int(listings[i].label)) for i in kept])
    photo = has[kept]
    folds = _folds(y, 5, Hyperparameters().seed + 1000)
    return kept, y, [(tr[photo[tr]], te[photo[te]]) for tr, te in folds]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--image-c", type=float, help="the head's C (default: the shipped one)")
    parser.add_argument(
        "--mlp", type=int, metavar="UNITS", help="an MLP head (one hidden layer, early stopping)"
    )
    parser.add_argument("runs", nargs="+", help="NAME=TRAIN_VARIANT:TEST_VARIANT:KEY[+KEY...]")
    args = parser.parse_args(argv)
    # Which photos decode is the same in every variant: the first run's training variant says.
    has = np.load(OUT / f"{args.runs[0].split('=', 1)[1].split(':')[0]}.npz")["has"]
    kept, y, folds = photo_folds(args.data, has)
    n_photos = sum(len(test) for _, test in folds)
    hp = Hyperparameters() if args.image_c is None else Hyperparameters(image_c=args.image_c)

    def features(variant: str, keys: str) -> np.ndarray:
        z = np.load(OUT / f"{variant}.npz")
        return np.concatenate([z[k][kept] for k in keys.split("+")], axis=1)

    for run in args.runs:
        name, spec = run.split("=", 1)
        train_variant, test_variant, keys = spec.split(":")
        x_train, x_test = features(train_variant, keys), features(test_variant, keys)
        per_fold, hits = [], 0
        for train, test in folds:
            head = ImageHead(hp).pipeline
            if args.mlp:  # the same scaler, then an MLP in place of the regression
                mlp = MLPClassifier(
                    (args.mlp,), alpha=1e-2, early_stopping=True, max_iter=300, random_state=hp.seed
                )
                head = make_pipeline(head.steps[0][1], mlp)
            pred = head.fit(x_train[train], y[train]).predict(x_test[test])
            per_fold.append(round(float(np.mean(pred == y[test])), 3))
            hits += int(np.sum(pred == y[test]))
        print(f"{name}: top-1 {hits / n_photos:.4f}, folds {per_fold}", flush=True)


if __name__ == "__main__":
    main()
