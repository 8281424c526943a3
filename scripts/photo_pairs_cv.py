"""Screen two or three backbones' photo features together, on `scripts.photo_variants_cv`'s folds.

Each run is a photo head (the shipped `ImageHead`: standardised features -> logistic regression)
fitted once per outer fold of `scripts.cv` on one or more variants' avg+s6avg features
concatenated (`NAME=VARIANT[+VARIANT...]`); `--late NAME=RUN+RUN[...]` scores the average of those
runs' log-probabilities (separate heads, fused late). Top-1 is uncalibrated, so compare only
among these figures; each run is also compared fold by fold with the first.

    python -m scripts.photo_pairs_cv --image-c 0.01,0.003 \\
        l2=efficientnet-lite2-letterbox-260 l0=letterbox-224 \\
        l2l0=efficientnet-lite2-letterbox-260+letterbox-224 --late l2+l0=l2+l0
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from prodcat.model import Hyperparameters, ImageHead
from prodcat_contracts.taxonomy import load_taxonomy
from scripts.photo_variants import OUT
from scripts.photo_variants_cv import photo_folds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--image-c", default=str(Hyperparameters().image_c), help="C[,C...]")
    parser.add_argument("--late", nargs="*", default=[], help="NAME=RUN+RUN[...]")
    parser.add_argument("runs", nargs="+", help="NAME=VARIANT[+VARIANT...]")
    args = parser.parse_args(argv)
    runs = dict(r.split("=", 1) for r in args.runs)
    variants = {v for spec in runs.values() for v in spec.split("+")}
    z = {v: np.load(OUT / f"{v}.npz") for v in variants}
    has = z[next(iter(variants))]["has"]
    assert all(np.array_equal(z[v]["has"], has) for v in variants)
    kept, y, folds = photo_folds(args.data, has)
    n_classes = len(load_taxonomy(args.data))

    def report(name: str, lp: np.ndarray, ref: list[float] | None) -> list[float]:
        per_fold = [float(np.mean(lp[te].argmax(1) == y[te])) for _, te in folds]
        rows = np.concatenate([te for _, te in folds])
        top1 = float(np.mean(lp[rows].argmax(1) == y[rows]))
        nll = -float(np.mean(lp[rows, y[rows]]))
        line = f"{name}: top-1 {top1:.4f} nll {nll:.4f} folds {[round(f, 3) for f in per_fold]}"
        if ref is not None:
            d = [round(a - b, 3) for a, b in zip(per_fold, ref, strict=True)]
            line += f" vs first {d} (>= +0.01 on {sum(x >= 0.01 for x in d)} of 5)"
        print(line, flush=True)
        return per_fold

    for c in map(float, args.image_c.split(",")):
        print(f"C {c}", flush=True)
        hp = Hyperparameters(image_c=c)
        lps: dict[str, np.ndarray] = {}
        ref = None
        for name, spec in runs.items():
            x = np.concatenate(
                [z[v][k][kept] for v in spec.split("+") for k in ("avg", "s6avg")], 1
            )
            lp = np.full((len(y), n_classes), np.nan)
            for train, test in folds:
                head = ImageHead(hp).fit(x[train], y[train])
                lp[test] = head.logits(x[test], n_classes)
            lps[name] = lp
            per_fold = report(name, lp, ref)
            ref = ref or per_fold
        for late in args.late:
            name, parts = late.split("=", 1)
            report(name, np.mean([lps[p] for p in parts.split("+")], axis=0), ref)


if __name__ == "__main__":
    main()
