"""How much any fusion of the two heads' answers could gain: weights fitted on the held-out rows.

Per outer fold of `scripts.cv`, from `scripts.calibration_variants_cv`'s cached head logits: the
text+photo rows' held-out inputs to the fusion (the text after its temperature and top-1 map,
the photo after its temperature, both fitted on the inner rows as training fits them). Then,
pooled over the folds, top-1 of the shipped fusion (weights fitted on the inner rows), of text
alone, and two ceilings that are fitted on the very rows they score (an upper bound, never a
model): the best photo-to-text weight ratio on a grid, and a conditional-logit stacker (one
weight per feature, shared by the classes) over eight features of the two answers. A fusion
whose ceiling misses a target cannot meet it with these heads:

    python -m scripts.fusion_ceiling
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from scripts.calibration_variants_cv import (
    Options,
    cached_head_logits,
    calibrate,
    head_logits_parser,
)


def held_out_inputs(
    logits: dict[str, np.ndarray], y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pooled over the outer folds, on the held-out rows with both: the fusion's text and photo
    log-probabilities, the labels, and the shipped fusion's answer (fitted on the inner rows)."""
    text, photo, labels, fused = [], [], [], []
    f = 0
    while f"tr{f}" in logits:
        tr = logits[f"tr{f}"]
        cal = calibrate(
            logits[f"inner_t{f}"],
            logits[f"inner_i{f}"],
            y[tr],
            float(logits[f"shrink{f}"]),
            Options(),
        )
        zt, zi = logits[f"test_t{f}"], logits[f"test_i{f}"]
        held = ~np.isnan(zt[:, 0]) & ~np.isnan(zi[:, 0])
        t, i = cal["inputs"](zt[held], zi[held])
        text.append(t)
        photo.append(i)
        labels.append(y[logits[f"te{f}"]][held])
        fused.append(cal["both"](zt[held], zi[held]))
        f += 1
    return tuple(np.concatenate(v) for v in (text, photo, labels, fused))  # type: ignore[return-value]


def stacker_features(t: np.ndarray, i: np.ndarray) -> np.ndarray:
    """(rows, classes, 8): each answer's log-probability and probability, whether the class is its
    top-1, and the photo's log-probability times each head's top-1 confidence."""
    pt, pi = np.exp(t), np.exp(i)
    top_t = (t == t.max(axis=1, keepdims=True)).astype(float)
    top_i = (i == i.max(axis=1, keepdims=True)).astype(float)
    conf_t, conf_i = pt.max(axis=1, keepdims=True), pi.max(axis=1, keepdims=True)
    return np.stack([t, i, pt, pi, top_t, top_i, i * conf_t, i * conf_i], axis=-1)


def stacker_top1(t: np.ndarray, i: np.ndarray, y: np.ndarray) -> float:
    """Top-1 of the conditional-logit stacker fitted by NLL on these rows themselves."""
    x, rows = stacker_features(t, i), np.arange(len(y))
    w0 = np.zeros(x.shape[-1])
    w0[:2] = 1.0, 0.5
    w = minimize(
        lambda w: float(-np.mean(log_softmax(x @ w, axis=1)[rows, y])), w0, method="L-BFGS-B"
    ).x
    return float(np.mean((x @ w).argmax(axis=1) == y))


def main(argv: list[str] | None = None) -> None:
    args = head_logits_parser(__doc__).parse_args(argv)
    logits, data = cached_head_logits(args.data, args.cache, args.folds)
    t, i, yb, fused = held_out_inputs(logits, data.y)
    text = float(np.mean(t.argmax(axis=1) == yb))
    print(f"text+photo rows: {len(yb)}")
    print(f"text alone: {text:.4f}")
    print(f"shipped fusion: {np.mean(fused.argmax(axis=1) == yb):.4f}")
    ratios = np.round(np.arange(0.0, 1.51, 0.05), 2)
    top1 = [float(np.mean((t + r * i).argmax(axis=1) == yb)) for r in ratios]
    best = int(np.argmax(top1))
    print(
        f"ceiling, photo/text weight ratio on the held-out rows: {top1[best]:.4f} at {ratios[best]}"
    )
    print(f"ceiling, 8-feature stacker fitted on the held-out rows: {stacker_top1(t, i, yb):.4f}")
    print(f"top-1 needed for a gain of 0.03 over text alone: {text + 0.03:.4f}")


if __name__ == "__main__":
    main()
