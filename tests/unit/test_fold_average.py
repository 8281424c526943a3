"""The shipped heads are their fold models' average: one model whose scores are the folds' mean."""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from prodcat.model import Hyperparameters, ImageHead, average_linear


def _data(n: int = 300, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, 1, (n, 6))
    x[np.arange(n), y] += 2.0
    return x, y


def test_the_average_scores_like_the_mean_of_the_fold_models() -> None:
    x, y = _data()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(x, y))
    svms = [LinearSVC(C=0.5, random_state=0).fit(x[tr], y[tr]) for tr, _ in folds]
    mean = np.mean([m.decision_function(x) for m in svms], axis=0)
    np.testing.assert_allclose(average_linear(svms).decision_function(x), mean, rtol=1e-10)
    lrs = [LogisticRegression(max_iter=500).fit(x[tr], y[tr]) for tr, _ in folds]
    avg = average_linear(lrs)
    np.testing.assert_allclose(
        np.log(avg.predict_proba(x)),
        log_softmax(np.mean([m.decision_function(x) for m in lrs], axis=0), axis=1),
        rtol=1e-8,
    )
    assert avg.coef_.shape == lrs[0].coef_.shape  # one model's size


def test_a_class_a_fold_never_saw_is_averaged_over_the_folds_that_saw_it() -> None:
    x, y = _data(classes=3)
    y[0] = 3  # a class with one row: the fold that holds it out trains without it
    without = np.arange(1, len(y))
    a = LogisticRegression(max_iter=500).fit(x, y)
    b = LogisticRegression(max_iter=500).fit(x[without], y[without])
    avg = average_linear([a, b])
    np.testing.assert_array_equal(avg.classes_, [0, 1, 2, 3])
    np.testing.assert_allclose(avg.coef_[3], a.coef_[3])
    np.testing.assert_allclose(avg.coef_[:3], (a.coef_[:3] + b.coef_) / 2)


def test_image_head_out_of_fold_logits_come_from_models_that_did_not_see_the_row() -> None:
    x, y = _data(n=200)
    # Row 0's label flipped: only a model that trained on it can lean towards the wrong label.
    y[0] = (y[0] + 1) % 4
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(x, y))
    head = ImageHead(Hyperparameters(image_c=1.0))
    oof = head.fit_folds(x, y, folds, n_classes=4)
    held_out_by = next(k for k, (_, te) in enumerate(folds) if 0 in te)
    tr = folds[held_out_by][0]
    scaler = head.pipeline.steps[0][1]
    alone = LogisticRegression(C=1.0, max_iter=3000).fit(scaler.transform(x[tr]), y[tr])
    np.testing.assert_allclose(
        oof[0], np.log(alone.predict_proba(scaler.transform(x[:1]))[0]), rtol=1e-6
    )
    np.testing.assert_allclose(np.exp(head.logits(x, 4)).sum(axis=1), 1.0)


def test_folds_are_stratified_deterministic_and_silent_about_rare_classes() -> None:
    import warnings

    from prodcat.training import _folds

    y = np.array([0] * 50 + [1] * 23 + [2] * 3 + [3])  # classes 2 and 3 have fewer rows than folds
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # StratifiedKFold warned here
        folds = _folds(y, 5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, _folds(y, 5, seed=0), strict=True))
    held_out = np.concatenate([te for _, te in folds])
    assert sorted(held_out.tolist()) == list(range(len(y)))  # each row held out once
    for tr, te in folds:
        assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)
        assert np.bincount(y[te], minlength=4)[0] == 10  # 50 rows of class 0: 10 per fold
        assert np.bincount(y[te], minlength=4)[1] in (4, 5)
    # The three rows of class 2 land in three different folds.
    assert len({k for k, (_, te) in enumerate(folds) if np.any(y[te] == 2)}) == 3
    assert not all(
        np.array_equal(a[1], b[1]) for a, b in zip(folds, _folds(y, 5, seed=1), strict=True)
    )
