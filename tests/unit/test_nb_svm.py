"""The text head's NB-SVM share (`text_nb_share`): one linear model whose scores mix the SVM's
with an NB-SVM's, so a request costs what it did."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix, hstack
from scipy.sparse import random as sparse_random
from sklearn.svm import LinearSVC

from prodcat.model import NB_ALPHA, NB_SVM_C, Hyperparameters, TextHead, with_nb_svm


def _data(n: int = 240, classes: int = 4) -> tuple[csr_matrix, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, n)
    words = sparse_random(n, 40, density=0.2, random_state=1, format="lil")
    words[np.arange(n), y] = 1.0  # one telling column per class
    return hstack([words.tocsr(), csr_matrix(rng.normal(size=(n, 3)))]).tocsr(), y


def test_the_mix_scores_like_the_svm_and_one_nb_svm_per_class() -> None:
    x, y = _data()
    svm = LinearSVC(C=0.5, class_weight="balanced", random_state=0).fit(x, y)
    mixed = with_nb_svm(svm, x, y, n_tfidf=40, share=0.4)
    assert mixed.coef_.shape == svm.coef_.shape  # one model of the SVM's size
    expected = 0.6 * svm.decision_function(x)
    seen = (x[:, :40] > 0).toarray()
    for k in range(4):
        pos = y == k
        p, q = NB_ALPHA + seen[pos].sum(0), NB_ALPHA + seen[~pos].sum(0)
        r = np.concatenate([np.log(p / p.sum()) - np.log(q / q.sum()), np.ones(3)])
        weight = len(y) / (4 * pos.sum())  # LinearSVC's balanced one-vs-rest weights
        nb = LinearSVC(C=NB_SVM_C, class_weight={1: weight, 0: 1.0}, random_state=0)
        nb.fit(x.multiply(r).tocsr(), pos.astype(int))
        expected[:, k] += 0.4 * nb.decision_function(x.multiply(r).tocsr())
    np.testing.assert_allclose(mixed.decision_function(x), expected, rtol=1e-8, atol=1e-10)


def test_a_two_class_svm_is_left_as_it_is() -> None:
    x, y = _data(classes=2)
    svm = LinearSVC(random_state=0).fit(x, y)
    assert with_nb_svm(svm, x, y, n_tfidf=40, share=0.4) is svm


def test_the_share_is_validated_and_zero_fits_the_svm_alone() -> None:
    assert TextHead(Hyperparameters(text_nb_share=0.0)).nb_share == 0.0
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="text_nb_share must be in"):
            Hyperparameters(text_nb_share=bad)
