"""Metrics of the metrics.json contract, on cases small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prodcat.metrics import (
    calibrated_ece,
    classification_metrics,
    debiased_calibration_error,
    debiased_squared_calibration_error,
    expected_calibration_error,
    top_k_accuracy,
)


def _two_class(conf: list[float], predicted: list[int]) -> np.ndarray:
    """Probabilities over 2 classes whose top-1 is `predicted[i]` with probability `conf[i]`."""
    probs = np.empty((len(conf), 2))
    for i, (c, p) in enumerate(zip(conf, predicted, strict=True)):
        probs[i, p], probs[i, 1 - p] = c, 1 - c
    return probs


PROBS = np.array(
    [
        [0.5, 0.3, 0.2, 0.0],  # ranks: 0, 1, 2
        [0.1, 0.2, 0.3, 0.4],  # ranks: 3, 2, 1
        [0.6, 0.05, 0.15, 0.2],  # ranks: 0, 3, 2, 1
        [0.05, 0.15, 0.7, 0.1],  # ranks: 2, 1, 3, 0
    ]
)
Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize(("k", "expected"), [(1, 0.25), (2, 0.25), (3, 0.5), (4, 1.0)])
def test_top_k_accuracy(k: int, expected: float) -> None:
    assert top_k_accuracy(PROBS, Y, k) == pytest.approx(expected)


def test_perfect_calibration_has_zero_ece() -> None:
    # 10 predictions at 0.8 with 8 right, 4 at 0.5 with 2 right.
    conf = [0.8] * 10 + [0.5] * 4
    probs = _two_class(conf, [0] * 14)
    y = np.array([0] * 8 + [1] * 2 + [0] * 2 + [1] * 2)
    assert expected_calibration_error(probs, y) == pytest.approx(0.0, abs=1e-12)


def test_overconfident_predictions() -> None:
    # Always 90 % sure, right half the time: ECE = |0.5 - 0.9| = 0.4.
    probs = _two_class([0.9] * 10, [0] * 10)
    y = np.array([0, 1] * 5)
    assert expected_calibration_error(probs, y) == pytest.approx(0.4)


def test_ece_weights_bins_by_count() -> None:
    # 4 at 0.95, all right (gap 0.05); 6 at 0.6, half right (gap 0.1): 0.4*0.05 + 0.6*0.1.
    probs = _two_class([0.95] * 4 + [0.6] * 6, [0] * 10)
    y = np.array([0] * 4 + [0, 0, 0, 1, 1, 1])
    assert expected_calibration_error(probs, y) == pytest.approx(0.08)


def test_ece_does_not_let_bins_cancel() -> None:
    # One right at 0.62, one wrong at 0.98: in separate bins the gaps add (0.19 + 0.49);
    # pooled into one bin they would nearly cancel (|0.5 - 0.8| = 0.3).
    probs = _two_class([0.62, 0.98], [0, 0])
    y = np.array([0, 1])
    assert expected_calibration_error(probs, y) == pytest.approx(0.68)


def test_underconfidence_counts_too() -> None:
    probs = _two_class([0.6] * 5, [1] * 5)
    assert expected_calibration_error(probs, np.ones(5, dtype=int)) == pytest.approx(0.4)


def test_fifteen_equal_bins() -> None:
    # 0.6 and 0.64 share the bin (0.6, 0.6667]; 0.6 itself is in (0.5333, 0.6].
    probs = _two_class([0.61, 0.64], [0, 0])
    y = np.array([0, 1])
    assert expected_calibration_error(probs, y) == pytest.approx(abs(0.5 - 0.625))
    probs = _two_class([0.6, 0.64], [0, 0])
    assert expected_calibration_error(probs, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.64)


def test_classification_metrics_by_hand() -> None:
    # y = 0 0 1 2, predictions 0 1 1 2, class 3 absent from the set.
    probs = np.array(
        [
            [0.7, 0.1, 0.1, 0.1],
            [0.3, 0.6, 0.05, 0.05],
            [0.1, 0.8, 0.05, 0.05],
            [0.0, 0.1, 0.9, 0.0],
        ]
    )
    y = np.array([0, 0, 1, 2])
    m = classification_metrics(probs, y, n_classes=4)
    assert set(m) == {"n", "accuracy", "top3_accuracy", "macro_f1", "weighted_f1", "ece"}
    assert m["n"] == 4
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["top3_accuracy"] == pytest.approx(1.0)
    # F1: class 0 = 2/3, class 1 = 2/3, class 2 = 1; the absent class 3 is not averaged in.
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert m["weighted_f1"] == pytest.approx((2 * 2 / 3 + 2 / 3 + 1) / 4)
    assert m["ece"] == pytest.approx(expected_calibration_error(probs, y))
    assert all(isinstance(v, float) for k, v in m.items() if k != "n")


def test_classification_metrics_on_an_empty_set() -> None:
    assert classification_metrics(np.zeros((0, 27)), np.zeros(0, dtype=int), 27) == {"n": 0}


def test_calibrated_ece_is_zero_when_every_prediction_is_certain() -> None:
    assert calibrated_ece(_two_class([1.0] * 20, [0] * 20)) == (0.0, 0.0)


def test_calibrated_ece_of_one_coin_flip_is_half() -> None:
    # One row at 0.5: right or wrong, its bin is off by 0.5.
    assert calibrated_ece(_two_class([0.5], [0])) == pytest.approx((0.5, 0.0))


def test_calibrated_ece_is_the_binomial_mean_gap() -> None:
    # 10 rows at 0.8 share a bin: the floor is E|k/10 - 0.8| for k ~ Binomial(10, 0.8).
    exact = sum(math.comb(10, k) * 0.8**k * 0.2 ** (10 - k) * abs(k / 10 - 0.8) for k in range(11))
    mean, sd = calibrated_ece(_two_class([0.8] * 10, [0] * 10), draws=4000)
    assert mean == pytest.approx(exact, abs=0.005)
    assert sd > 0.03
    # More rows, a lower floor: the bias that makes small-sample ECE look worse than it is.
    assert calibrated_ece(_two_class([0.8] * 1000, [0] * 1000))[0] < exact / 5


@pytest.mark.parametrize("gap", [0.0, 0.05])
def test_debiased_calibration_error_is_unbiased_where_binned_ece_is_not(gap: float) -> None:
    # 515 rows (the text+photo CV's), top-1 confidences uniform on [0.5, 1], each right with
    # probability confidence - gap: the true squared calibration error is gap^2 in every bin.
    rng = np.random.default_rng(0)
    draws = 300
    ece, squared, plug_in = [], [], []
    for _ in range(draws):
        conf = rng.uniform(0.5, 1.0, 515)
        probs = _two_class(conf.tolist(), [0] * 515)
        y = (rng.random(515) >= conf - gap).astype(int)  # class 0 (the top-1) w.p. conf - gap
        ece.append(expected_calibration_error(probs, y))
        squared.append(debiased_squared_calibration_error(probs, y))
        # The same bins' plug-in squared error, without the variance correction.
        bins = np.array_split(np.argsort(conf, kind="stable"), 15)
        plug_in.append(sum(len(b) * (np.mean(y[b] == 0) - conf[b].mean()) ** 2 for b in bins) / 515)
    se = np.std(squared) / math.sqrt(draws)  # 0.0028 / sqrt(300)
    assert abs(np.mean(squared) - gap**2) < 4 * se  # unbiased
    assert np.mean(plug_in) - gap**2 > 10 * se  # biased upwards by the bins' variance
    # Binned ECE overstates the gap too: 0.039 on a calibrated model, 0.058 at a gap of 0.05.
    assert np.mean(ece) > gap + 0.005
    root = debiased_calibration_error(probs, y)
    assert root == pytest.approx(math.sqrt(max(debiased_squared_calibration_error(probs, y), 0)))


def test_debiased_calibration_error_by_hand() -> None:
    # One bin (bins=1) of 4 rows at 0.75, 2 right: gap 0.25, variance term 0.5 * 0.5 / 3.
    probs = _two_class([0.75] * 4, [0] * 4)
    y = np.array([0, 0, 1, 1])
    expected = 0.25**2 - 0.25 / 3
    assert debiased_squared_calibration_error(probs, y, bins=1) == pytest.approx(expected)
    assert debiased_calibration_error(probs, y, bins=1) == 0.0  # a negative estimate: 0
    # Equal-mass bins: 0.55 x2 (both wrong) and 0.95 x2 (both right), 2 bins of 2 rows.
    probs = _two_class([0.95, 0.55, 0.95, 0.55], [0] * 4)
    y = np.array([0, 1, 0, 1])
    assert debiased_squared_calibration_error(probs, y, bins=2) == pytest.approx(
        0.5 * 0.05**2 + 0.5 * 0.55**2
    )
    assert debiased_squared_calibration_error(np.zeros((0, 2)), np.zeros(0, dtype=int)) == 0.0
