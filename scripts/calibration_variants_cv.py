"""Screen calibration and fusion variants on `scripts.cv`'s outer folds without refitting a head.

Once (cached in `.work/cv/`): per outer fold, the text and photo heads fitted as `fit_heads`
fits them, their inner out-of-fold logits (what the temperatures, top-1 maps and fusion are
fitted on), their logits on the held-out rows, and how much averaging the fold regressions
shrank the photo scores; and, only for `photo_ens_oof`, out-of-fold photo logits of an average
of regressions (`ensemble_oof_logits`: 50 more fits, ~13 min on 2 loaded cores). Then each
variant refits only the temperatures, the top-1 maps and the fusion, and is saved in `scripts.cv --save`'s format; `shipped` reproduces `scripts.cv`'s
probabilities from before the photo vector map, and `photo_vector_fused` those of the model
shipped since (the map on photo answers and on the fusion's photo input), so
`scripts.cv_compare` says what each variant changes:

    python -m scripts.calibration_variants_cv --out .work/calibration
    python -m scripts.cv_compare .work/calibration/shipped.npz .work/calibration/photo_top1.npz
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp

from prodcat.calibration import (
    fit_temperature,
    fit_top1,
    fit_vector_map,
    recalibrate_top1,
    softmax,
    with_top1,
)
from prodcat.model import (
    Fusion,
    Hyperparameters,
    ImageHead,
    TextHead,
    _full,
    average_linear,
    top1_log_proba,
)
from prodcat.training import TrainingSet, _folds
from scripts.cv import MODES, _data_key, cached_training_set

Predict = Callable[..., Any]


@dataclass(frozen=True)
class Options:
    text_top1_fused: bool = True  # the fusion reads the text after its top-1 map (shipped)
    photo_top1: bool = False  # photos through a top-1 map of their own
    photo_top1_fused: bool = False  # ... and the fusion reads them after it
    photo_shrink: bool = False  # photo temperature times the fold average's score shrinkage
    photo_mix: bool = False  # photo probabilities mixed with the uniform before the fusion's log
    agree: bool = False  # text+photo's top-1 map with a weight for the heads agreeing
    fusion_form: str = "loglinear"  # another way to combine the two heads: `FUSION_FORMS`
    photo_map: str = ""  # photos through a map of `PHOTO_MAPS` fitted on the inner OOF rows
    photo_map_fused: bool = False  # ... and the fusion reads them after it
    photo_ens_oof: bool = False  # photo calibration fitted on `ensemble_oof_logits`


VARIANTS = {
    # The model before the photo vector map; `photo_vector_fused` is the one shipped since.
    "shipped": Options(),
    "softmax_text": Options(text_top1_fused=False),
    "photo_top1": Options(photo_top1=True),
    "photo_shrink": Options(photo_shrink=True),
    "both_top1_fused": Options(photo_top1=True, photo_top1_fused=True),
    "photo_mix": Options(photo_mix=True),
    "agree": Options(agree=True),
    "fuse_bcc": Options(fusion_form="bcc"),
    "fuse_bcc_photo": Options(fusion_form="bcc_photo"),
    "fuse_prior": Options(fusion_form="prior"),
    "fuse_naive_bayes": Options(fusion_form="naive_bayes"),
    "fuse_linear": Options(fusion_form="linear"),
    "fuse_photo_conf": Options(fusion_form="photo_conf"),
    "photo_beta": Options(photo_map="beta"),
    "photo_vector": Options(photo_map="vector"),
    "photo_vector_fused": Options(photo_map="vector", photo_map_fused=True),
    "photo_shrink_beta": Options(photo_shrink=True, photo_map="beta"),
    "photo_ens_oof": Options(photo_ens_oof=True),
}


def _photo_head(
    hp: Hyperparameters, features: np.ndarray, y: np.ndarray, n_classes: int
) -> tuple[ImageHead, np.ndarray, float]:
    """`ImageHead.fit_folds`, keeping the fold regressions to measure how much their average
    shrinks the scores (mean per-row spread of the average's scores over the folds', on the
    training rows: no label needed)."""
    head = ImageHead(hp)
    scaler, regression = head.pipeline.steps[0][1], head.pipeline.steps[-1][1]
    x = scaler.fit_transform(features)
    oof = np.zeros((len(y), n_classes))
    models = []
    for train_idx, test_idx in _folds(y, hp.folds, hp.seed):
        lr = copy.deepcopy(regression).fit(x[train_idx], y[train_idx])
        lp = np.log(np.clip(lr.predict_proba(x[test_idx]), 1e-12, 1.0))
        oof[test_idx] = _full(lr.classes_, lp, n_classes, missing=np.log(1e-12))
        models.append(lr)
    average = average_linear(models)
    head.pipeline.steps[-1] = (head.pipeline.steps[-1][0], average)
    spread = np.mean([m.decision_function(x).std(axis=1).mean() for m in models])
    return head, oof, float(average.decision_function(x).std(axis=1).mean() / spread)


def head_logits(data: TrainingSet, hp: Hyperparameters, folds: int) -> dict[str, Any]:
    """Per outer fold f: tr{f}/te{f} rows, inner_t{f}/inner_i{f} (inner out-of-fold logits over
    the training rows, NaN where a row lacks the input), test_t{f}/test_i{f}, shrink{f}."""
    n_classes = len(data.taxonomy)
    out: dict[str, Any] = {}
    for f, (tr, te) in enumerate(_folds(data.y, folds, hp.seed + 1000)):
        print(f"fold {f + 1}/{folds}", file=sys.stderr)
        train, test = data.subset(tr), data.subset(te)
        inner = {k: np.full((len(tr), n_classes), np.nan) for k in "ti"}
        held = {k: np.full((len(te), n_classes), np.nan) for k in "ti"}
        rows, y = train.text_rows, train.y[train.text_rows]
        text = TextHead(hp)
        inner["t"][rows] = text.fit_folds(
            [train.texts[i] for i in rows],
            train.embeddings[rows],
            y,
            _folds(y, hp.folds, hp.seed),
            n_classes,
        )
        r = test.text_rows
        held["t"][r] = text.logits([test.texts[i] for i in r], test.embeddings[r], n_classes)
        rows = train.image_rows
        feats = np.stack([train.photos[i] for i in rows])
        photo, inner["i"][rows], shrink = _photo_head(hp, feats, train.y[rows], n_classes)
        r = test.image_rows
        held["i"][r] = photo.logits(np.stack([test.photos[i] for i in r]), n_classes)
        out |= {f"tr{f}": tr, f"te{f}": te, f"shrink{f}": np.array(shrink)}
        out |= {f"inner_{k}{f}": v for k, v in inner.items()}
        out |= {f"test_{k}{f}": v for k, v in held.items()}
    return out


def ensemble_oof_logits(data: TrainingSet, hp: Hyperparameters, folds: int) -> dict[str, Any]:
    """Per outer fold f, ens_i{f}: out-of-fold photo logits of an average of fold regressions,
    as the shipped head is one, where `inner_i{f}` are one regression's. Pairwise-nested: for
    the inner folds F_1..F_K, a regression fitted on the rows outside F_j and F_k for every
    pair; a row of F_k is scored by the average of the K - 1 regressions that left F_k out
    (K (K - 1) / 2 more fits, each on (K - 2) / K of the rows)."""
    n_classes = len(data.taxonomy)
    out: dict[str, Any] = {}
    for f, (tr, _) in enumerate(_folds(data.y, folds, hp.seed + 1000)):
        print(f"fold {f + 1}/{folds}: ensemble out-of-fold photo logits", file=sys.stderr)
        train = data.subset(tr)
        rows, y = train.image_rows, train.y[train.image_rows]
        head = ImageHead(hp)
        scaler, regression = head.pipeline.steps[0][1], head.pipeline.steps[-1][1]
        x = scaler.fit_transform(np.stack([train.photos[i] for i in rows]))
        fold_of = np.empty(len(y), dtype=int)
        inner = _folds(y, hp.folds, hp.seed)
        for k, (_, test_idx) in enumerate(inner):
            fold_of[test_idx] = k
        pair: dict[tuple[int, int], Any] = {}
        for j in range(len(inner)):
            for k in range(j + 1, len(inner)):
                keep = (fold_of != j) & (fold_of != k)
                pair[j, k] = pair[k, j] = copy.deepcopy(regression).fit(x[keep], y[keep])
        ens = np.zeros((len(y), n_classes))
        for k in range(len(inner)):
            average = average_linear([pair[k, j] for j in range(len(inner)) if j != k])
            lp = np.log(np.clip(average.predict_proba(x[fold_of == k]), 1e-12, 1.0))
            ens[fold_of == k] = _full(average.classes_, lp, n_classes, missing=np.log(1e-12))
        out[f"ens_i{f}"] = np.full((len(tr), n_classes), np.nan)
        out[f"ens_i{f}"][rows] = ens
    return out


def _mix(p: np.ndarray, eps: float) -> np.ndarray:
    return np.log((1 - eps) * p + eps / p.shape[1])


def _agree_map(probs: np.ndarray, agree: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(a, b, d) of  c' = sigmoid(a logit(c) + b + d agree), by log-loss (as `fit_top1`)."""
    c = np.clip(probs.max(axis=1), 1e-6, 1 - 1e-6)
    x, sign = np.log(c) - np.log1p(-c), 2 * (probs.argmax(axis=1) == y) - 1
    res = minimize(
        lambda w: float(np.mean(np.logaddexp(0.0, -sign * (w[0] * x + w[1] + w[2] * agree)))),
        np.array([1.0, 0.0, 0.0]),
        method="L-BFGS-B",
        bounds=[(0.05, 20.0), (-10.0, 10.0), (-10.0, 10.0)],
    )
    return res.x


Fuse = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _fit_weights(
    z: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    w0: list[float],
    bounds: list[tuple[float | None, float | None]],
) -> np.ndarray:
    """The weights w of the fused logits z(w) that minimise the NLL of y (as `Fusion.fit`)."""
    rows = np.arange(len(y))
    res = minimize(
        lambda w: float(-np.mean(log_softmax(z(w), axis=1)[rows, y])),
        np.array(w0),
        method="L-BFGS-B",
        bounds=bounds,
    )
    return res.x


def soft_confusion(photo_lp: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """log M / m: M[c, j] the mean photo probability of type j over rows of true type c (shrunk
    towards the photo's mean answer m by `alpha` pseudo-rows), m_j the mean over all rows.
    log sum_j q_j M[c, j] / m_j is then a photo answer q's likelihood under type c: Bayesian
    classifier combination (Kim & Ghahramani 2012) with the photo head's confusion as the model."""
    q = np.exp(photo_lp)
    m = q.mean(axis=0)
    k = q.shape[1]
    counts = np.bincount(y, minlength=k)[:, None]
    sums = np.zeros((k, k))
    np.add.at(sums, y, q)
    confusion = (sums + alpha * m) / (counts + alpha)
    return np.log(confusion) - np.log(m)


def _likelihood(photo_lp: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """log L(c) = log sum_j q_j M[c, j] / m_j for each row's photo answer q."""
    return logsumexp(photo_lp[:, None, :] + log_ratio[None, :, :], axis=2)


def fit_fusion_form(
    form: str,
    t_lp: np.ndarray,
    i_lp: np.ndarray,
    y: np.ndarray,
    photo_lp: np.ndarray,
    photo_y: np.ndarray,
    photo_both: np.ndarray,
) -> Fuse:
    """A fusion other than `Fusion`'s  a log p_text + b log p_photo, fitted by NLL on the inner
    rows with both (t_lp, i_lp, y); photo_lp / photo_y are the photo head's inner out-of-fold
    answers on every training row with a photo (photo_both: those rows that also have text).

    bcc: a log p_text + b log L(photo), L from the photo's soft confusion on all its rows (the
      rows with both get L from a confusion fitted without their own fifth, as held-out rows);
    bcc_photo: ... + g log p_photo beside it;
    prior: a log p_text + b log p_photo - g log prior (the photo rows' type frequencies);
    naive_bayes: g = b (the photo's prior divided out, as Bayes' rule combines two experts);
    linear: log(w p_text + (1 - w) p_photo), a pool that no head can veto;
    photo_conf: the photo's weight b + g max p_photo (an unsure photo weighs less)."""
    k = t_lp.shape[1]
    if form in ("bcc", "bcc_photo"):
        held = np.zeros_like(photo_lp)
        for tr, te in _folds(photo_y, 5, 0):
            held[te] = _likelihood(photo_lp[te], soft_confusion(photo_lp[tr], photo_y[tr]))
        ratio = soft_confusion(photo_lp, photo_y)
        l_in = held[photo_both]
        if form == "bcc":
            w = _fit_weights(lambda w: w[0] * t_lp + w[1] * l_in, y, [1.0, 1.0], [(0, None)] * 2)
            return lambda t, i: w[0] * t + w[1] * _likelihood(i, ratio)
        w = _fit_weights(
            lambda w: w[0] * t_lp + w[1] * l_in + w[2] * i_lp, y, [1.0, 1.0, 0.0], [(0, None)] * 3
        )
        print(f"  bcc_photo weights {w.round(3)}", file=sys.stderr)
        return lambda t, i: w[0] * t + w[1] * _likelihood(i, ratio) + w[2] * i
    if form in ("prior", "naive_bayes"):
        log_prior = np.log((np.bincount(photo_y, minlength=k) + 1.0) / (len(photo_y) + k))
        if form == "prior":
            w = _fit_weights(
                lambda w: w[0] * t_lp + w[1] * i_lp - w[2] * log_prior,
                y,
                [1.0, 1.0, 0.0],
                [(0, None), (0, None), (-5, 5)],
            )
            print(f"  prior weights {w.round(3)}", file=sys.stderr)
            return lambda t, i: w[0] * t + w[1] * i - w[2] * log_prior
        w = _fit_weights(
            lambda w: w[0] * t_lp + w[1] * (i_lp - log_prior), y, [1.0, 1.0], [(0, None)] * 2
        )
        return lambda t, i: w[0] * t + w[1] * (i - log_prior)
    if form == "linear":
        w = _fit_weights(
            lambda w: np.log(w[0] * np.exp(t_lp) + (1 - w[0]) * np.exp(i_lp)), y, [0.7], [(0, 1)]
        )
        print(f"  linear pool text share {w[0]:.3f}", file=sys.stderr)
        return lambda t, i: np.log(w[0] * np.exp(t) + (1 - w[0]) * np.exp(i))
    if form == "photo_conf":

        def z(w: np.ndarray, t: np.ndarray, i: np.ndarray) -> np.ndarray:
            return w[0] * t + (w[1] + w[2] * np.exp(i).max(axis=1, keepdims=True)) * i

        w = _fit_weights(
            lambda w: z(w, t_lp, i_lp), y, [1.0, 1.0, 0.0], [(0, None), (0, None), (-5, 5)]
        )
        print(f"  photo_conf weights {w.round(3)}", file=sys.stderr)
        return lambda t, i: z(w, t, i)
    raise ValueError(f"unknown fusion form {form!r}")


def _beta_map(probs: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Beta calibration of the top-1 (Kull et al. 2017): logit c' = a ln c - b ln(1 - c) + m,
    a, b >= 0 (3 parameters; Platt's is a = b), by log-loss on whether the top-1 is right."""
    c = np.clip(probs.max(axis=1), 1e-6, 1 - 1e-6)
    feats, sign = np.stack([np.log(c), -np.log1p(-c)], axis=1), 2 * (probs.argmax(axis=1) == y) - 1
    w = minimize(
        lambda w: float(np.mean(np.logaddexp(0.0, -sign * (feats @ w[:2] + w[2])))),
        np.array([1.0, 1.0, 0.0]),
        method="L-BFGS-B",
        bounds=[(0.0, 20.0), (0.0, 20.0), (-10.0, 10.0)],
    ).x
    print(f"  photo beta map: a {w[0]:.3f} b {w[1]:.3f} m {w[2]:+.3f}", file=sys.stderr)

    def apply(p: np.ndarray) -> np.ndarray:
        c = np.clip(p.max(axis=1), 1e-6, 1 - 1e-6)
        z = w[0] * np.log(c) - w[1] * np.log1p(-c) + w[2]
        return with_top1(p, 1.0 / (1.0 + np.exp(-z)))

    return apply


def _vector_map(probs: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The shipped photo vector map (`calibration.fit_vector_map`: per class a scale and a bias
    on the temperature's log-probabilities, pulled toward the identity; Kull et al. 2019's
    ODIR, diagonal), its pull picked by 5-fold CV on these rows, as `fit_heads` picks it."""
    m = fit_vector_map(np.log(np.clip(probs, 1e-12, 1.0)), y, _folds(y, 5, 0))
    assert m is not None
    s, b = np.asarray(m.scale), np.asarray(m.bias)
    print(
        f"  photo vector map: lam {m.lam:g}, |s-1| {np.abs(s - 1).max():.3f} |b| {np.abs(b).max():.3f}",
        file=sys.stderr,
    )
    return lambda p: np.exp(m.apply(np.log(np.clip(p, 1e-12, 1.0))))


PHOTO_MAPS = {"beta": _beta_map, "vector": _vector_map}


def calibrate(
    inner_t: np.ndarray, inner_i: np.ndarray, y: np.ndarray, shrink: float, o: Options
) -> dict[str, Predict]:
    """Temperatures, top-1 maps and fusion fitted on one outer fold's inner out-of-fold logits,
    as `fit_heads` fits them but for `o`; the three modes' predictions from raw head logits."""
    has_t, has_i = ~np.isnan(inner_t[:, 0]), ~np.isnan(inner_i[:, 0])
    t_temp = fit_temperature(inner_t[has_t], y[has_t])
    t_map = fit_top1(softmax(inner_t[has_t], t_temp), y[has_t])
    i_temp = fit_temperature(inner_i[has_i], y[has_i])
    i_map = fit_top1(softmax(inner_i[has_i], i_temp), y[has_i])
    if o.photo_shrink:  # the shipped average's scores are `shrink` times the folds'
        i_temp *= shrink
    photo_map = (
        PHOTO_MAPS[o.photo_map](softmax(inner_i[has_i], i_temp), y[has_i]) if o.photo_map else None
    )

    def text(z: np.ndarray) -> np.ndarray:
        return recalibrate_top1(softmax(z, t_temp), t_map)

    def photo(z: np.ndarray) -> np.ndarray:
        p = softmax(z, i_temp)
        if photo_map is not None:
            return photo_map(p)
        return recalibrate_top1(p, i_map) if o.photo_top1 else p

    def fusion_inputs(zt: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t_lp = log_softmax(zt / t_temp, axis=1)
        if o.text_top1_fused:
            t_lp = top1_log_proba(t_lp, t_map)
        i_lp = log_softmax(zi / i_temp, axis=1)
        if o.photo_top1_fused:
            i_lp = top1_log_proba(i_lp, i_map)
        if o.photo_map_fused and photo_map is not None:
            i_lp = np.log(np.clip(photo_map(np.exp(i_lp)), 1e-12, 1.0))
        return t_lp, i_lp

    both = has_t & has_i
    yb = y[both]
    t_lp, i_lp = fusion_inputs(inner_t[both], inner_i[both])
    if o.photo_mix:
        rows = np.arange(len(yb))

        def loss(w: np.ndarray) -> float:
            z = w[0] * t_lp + w[1] * _mix(np.exp(i_lp), w[2])
            return float(-np.mean(log_softmax(z, axis=1)[rows, yb]))

        w = minimize(
            loss, np.array([1.0, 1.0, 0.05]), method="L-BFGS-B", bounds=[(0, None)] * 2 + [(0, 0.9)]
        ).x
        print(f"  photo mix fitted: {w[2]:.3f}", file=sys.stderr)
        fusion, eps = Fusion(float(w[0]), float(w[1])), float(w[2])
    else:
        fusion, eps = Fusion.fit(t_lp, i_lp, yb), 0.0

    def fused_logits(zt: np.ndarray, zi: np.ndarray) -> np.ndarray:
        t, i = fusion_inputs(zt, zi)
        return fusion.logits(t, _mix(np.exp(i), eps) if eps else i)

    if o.fusion_form != "loglinear":
        all_i = log_softmax(inner_i[has_i] / i_temp, axis=1)
        form = fit_fusion_form(o.fusion_form, t_lp, i_lp, yb, all_i, y[has_i], both[has_i])

        def fused_logits(zt: np.ndarray, zi: np.ndarray) -> np.ndarray:
            return form(*fusion_inputs(zt, zi))

    z = fused_logits(inner_t[both], inner_i[both])
    b_temp = fit_temperature(z, yb)
    agree_in = (inner_t[both].argmax(axis=1) == inner_i[both].argmax(axis=1)).astype(float)
    b_map = fit_top1(softmax(z, b_temp), yb)
    a_map = _agree_map(softmax(z, b_temp), agree_in, yb) if o.agree else None
    if a_map is not None:
        print(f"  agreement weight: {a_map[2]:+.3f}", file=sys.stderr)

    def fused(zt: np.ndarray, zi: np.ndarray) -> np.ndarray:
        p = softmax(fused_logits(zt, zi), b_temp)
        if a_map is None:
            return recalibrate_top1(p, b_map)
        agree = zt.argmax(axis=1) == zi.argmax(axis=1)
        for g in (False, True):
            p[agree == g] = recalibrate_top1(p[agree == g], (a_map[0], a_map[1] + a_map[2] * g))
        return p

    # "inputs": what the fusion reads of each head (`scripts.fusion_ceiling`)
    return {"text": text, "photo": photo, "both": fused, "inputs": fusion_inputs}


def score(logits: dict[str, np.ndarray], y: np.ndarray, o: Options) -> dict[str, Any]:
    """Pooled held-out probabilities per mode, in `scripts.cv --save`'s layout."""
    n, k = len(y), logits["inner_t0"].shape[1]
    probs = {m: np.zeros((n, k)) for m in MODES}
    seen = {m: np.zeros(n, dtype=bool) for m in MODES}
    fold_of = np.full(n, -1)
    f = 0
    while f"tr{f}" in logits:
        tr, te = logits[f"tr{f}"], logits[f"te{f}"]
        inner_i = logits[f"ens_i{f}" if o.photo_ens_oof else f"inner_i{f}"]
        cal = calibrate(logits[f"inner_t{f}"], inner_i, y[tr], float(logits[f"shrink{f}"]), o)
        zt, zi = logits[f"test_t{f}"], logits[f"test_i{f}"]
        has_t, has_i = ~np.isnan(zt[:, 0]), ~np.isnan(zi[:, 0])
        both = has_t & has_i
        answers = {
            "text_only": (has_t, cal["text"](zt[has_t])),
            "image_only": (has_i, cal["photo"](zi[has_i])),
            "text_image": (both, cal["both"](zt[both], zi[both])),
            "text_only_on_text_image_rows": (both, cal["text"](zt[both])),
        }
        for mode, (rows, p) in answers.items():
            probs[mode][te[rows]] = p
            seen[mode][te[rows]] = True
        fold_of[te] = f
        f += 1
    out: dict[str, Any] = {}
    for m in MODES:
        out |= {f"{m}_y": y[seen[m]], f"{m}_p": probs[m][seen[m]], f"{m}_fold": fold_of[seen[m]]}
    return out


def cached_head_logits(
    data_dir: Path, cache: Path, folds: int
) -> tuple[dict[str, np.ndarray], TrainingSet]:
    """`head_logits` of the default hyperparameters, computed once into `cache`; and the data."""
    hp = Hyperparameters()
    data = cached_training_set(data_dir, cache, hp)
    key = hashlib.sha256(f"{_data_key(data_dir)} {hp} {folds}".encode()).hexdigest()[:16]
    path = cache / f"{key}-head-logits.npz"
    if not path.is_file():
        np.savez_compressed(path, **head_logits(data, hp, folds))
    return dict(np.load(path)), data


def cached_ensemble_oof(data_dir: Path, cache: Path, folds: int) -> dict[str, np.ndarray]:
    """`ensemble_oof_logits` of the default hyperparameters, computed once into `cache`."""
    hp = Hyperparameters()
    key = hashlib.sha256(f"{_data_key(data_dir)} {hp} {folds}".encode()).hexdigest()[:16]
    path = cache / f"{key}-photo-ensemble-oof.npz"
    if not path.is_file():  # 50 more photo regressions: ~13 min on 2 loaded cores
        data = cached_training_set(data_dir, cache, hp)
        np.savez_compressed(path, **ensemble_oof_logits(data, hp, folds))
    return dict(np.load(path))


def head_logits_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options that say where `cached_head_logits` reads and keeps them."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(".work/cv"))
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = head_logits_parser(__doc__)
    parser.add_argument("--out", type=Path, required=True, help="a folder for VARIANT.npz")
    parser.add_argument("variants", nargs="*", help=f"of {', '.join(VARIANTS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(
            f"unknown variants {', '.join(sorted(unknown))}: choose from {', '.join(VARIANTS)}"
        )
    logits, data = cached_head_logits(args.data, args.cache, args.folds)
    if any(VARIANTS[name].photo_ens_oof for name in args.variants or VARIANTS):
        logits |= cached_ensemble_oof(args.data, args.cache, args.folds)
    classes = np.array([f"{c.code} {c.name_en}" for c in data.taxonomy.categories])
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.variants or VARIANTS:
        print(name, file=sys.stderr)
        saved = score(logits, data.y, VARIANTS[name])
        np.savez_compressed(args.out / f"{name}.npz", classes=classes, **saved)
        print(f"{name}: {args.out / f'{name}.npz'}")


if __name__ == "__main__":
    main()
