"""The static-word-vector experiment's listing embedding (scripts/static_word_vectors.py)."""

from collections.abc import Sequence

import numpy as np
import pytest

from scripts.static_word_vectors import WordVectors


def one_hot(words: Sequence[str]) -> np.ndarray:
    """A distinct axis per word (by its first letter), so a mean's weights can be read back."""
    out = np.zeros((len(words), 26), dtype=np.float32)
    for i, w in enumerate(words):
        out[i, ord(w[0]) - ord("a")] = 1
    return out


def test_a_listing_is_the_unit_mean_of_its_known_words_and_unseen_words_are_dropped() -> None:
    wv = WordVectors("uniform", centre=False).fit(["alpha beta", "beta gamma"], one_hot)
    got = wv.transform(["beta alpha alpha zeta", "zeta omega"])
    expected = np.zeros(26)
    expected[[0, 1]] = 1 / np.sqrt(2)  # alpha and beta once each; zeta never seen in fit
    np.testing.assert_allclose(got[0], expected, atol=1e-6)
    np.testing.assert_array_equal(got[1], np.zeros(26))  # no known word: zeros, like no text


def test_tfidf_weighting_favours_the_rarer_word() -> None:
    wv = WordVectors("tfidf", centre=False).fit(["alpha beta", "beta gamma", "beta"], one_hot)
    row = wv.transform(["alpha beta"])[0]
    assert row[0] > row[1] > 0  # alpha in 1 of 3 texts, beta in all
    assert np.linalg.norm(row) == pytest.approx(1.0, abs=1e-6)


def test_centring_removes_the_vocabulary_mean() -> None:
    def shared(words: Sequence[str]) -> np.ndarray:
        return one_hot(words) + 10  # a large common direction, as e5's vectors have

    wv = WordVectors("uniform").fit(["alpha beta"], shared)
    np.testing.assert_allclose(wv.vectors.mean(axis=0), 0, atol=1e-5)
