"""Top-1 Platt scaling: fixes a confidence that is wrong at both ends, keeps order and sums."""

from __future__ import annotations

import numpy as np

from prodcat.calibration import IDENTITY, fit_top1, recalibrate_top1, with_top1
from prodcat.metrics import expected_calibration_error


def _miscalibrated(n: int = 6000, k: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose top-1 is right with probability sigmoid(0.6 * logit(c) + 0.3), not c:
    underconfident low and overconfident high, as the text SVM was (README)."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.3), n)
    c = probs.max(axis=1)
    truth = 1 / (1 + np.exp(-(0.6 * np.log(c / (1 - np.minimum(c, 1 - 1e-9))) + 0.3)))
    right = rng.random(n) < truth
    top = probs.argmax(axis=1)
    wrong = (top + rng.integers(1, k, n)) % k
    return probs, np.where(right, top, wrong)


def test_recovers_the_map_and_cuts_the_calibration_error() -> None:
    probs, y = _miscalibrated()
    a, b = fit_top1(probs, y)
    assert abs(a - 0.6) < 0.1 and abs(b - 0.3) < 0.1
    fixed = recalibrate_top1(probs, (a, b))
    assert expected_calibration_error(probs, y) > 0.05
    assert expected_calibration_error(fixed, y) < 0.02


def test_order_and_sum_are_kept() -> None:
    probs, _ = _miscalibrated(n=500, seed=1)
    for ab in [(0.2, -3.0), (3.0, 2.0), (1.0, -8.0)]:  # maps that pull the top-1 far down or up
        out = recalibrate_top1(probs, ab)
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        np.testing.assert_array_equal(out.argmax(axis=1), probs.argmax(axis=1))
        rest = np.sort(np.where(np.eye(10, dtype=bool)[probs.argmax(1)], -1, probs), axis=1)
        rest_out = np.sort(np.where(np.eye(10, dtype=bool)[probs.argmax(1)], -1, out), axis=1)
        np.testing.assert_array_equal(np.argsort(rest, axis=1), np.argsort(rest_out, axis=1))


def test_sums_stay_one_for_a_top1_within_a_millionth_of_certainty() -> None:
    # 1 - c below the logit's clip (1e-6) once left these rows summing to 1 - 8e-5.
    for left in [1e-3, 1e-7, 1e-9, 0.0]:
        probs = np.full((2, 27), left / 26)
        probs[:, 3] = 1 - left
        for ab in [(0.7, -0.3), (1.5, 1.0)]:
            out = recalibrate_top1(probs, ab)
            np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-12)
            assert (out.argmax(axis=1) == 3).all()


def test_sums_stay_one_when_the_other_classes_share_a_subnormal_mass() -> None:
    # A photo far outside the training data (all features 1) once left the others 1e-310 in
    # all: (1 - top') / rest overflowed, and 0 * inf made the row nan.
    probs = np.zeros((1, 5))
    probs[0, 0], probs[0, 2] = 1.0, 1e-310
    out = with_top1(probs, np.array([0.9]))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert out[0, 0] == 0.9 and out[0, 2] == 1.0 - 0.9  # the whole rest goes to class 2


def test_identity_without_data_or_without_errors() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    assert fit_top1(np.zeros((0, 3)), np.zeros(0, dtype=int)) == IDENTITY
    assert fit_top1(probs, np.array([0, 1])) == IDENTITY  # always right: nothing to learn
    np.testing.assert_array_equal(recalibrate_top1(probs, IDENTITY), probs)
