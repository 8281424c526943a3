"""scripts.learning_curve: the subsets and the power-law extrapolation."""

import numpy as np

from scripts.learning_curve import power_law, rows_for, subset


def test_subset_is_stratified_keeps_single_row_classes_and_is_deterministic() -> None:
    y = np.array([0] * 40 + [1] * 20 + [2])
    train = np.arange(len(y))
    half = subset(train, y, 0.5, seed=3)
    assert np.bincount(y[half]).tolist() == [20, 10, 1]
    assert np.array_equal(half, subset(train, y, 0.5, seed=3))
    assert np.array_equal(subset(train, y, 1.0, seed=3), train)


def test_power_law_recovers_its_parameters_and_extrapolates() -> None:
    n = np.array([100.0, 200.0, 400.0, 800.0])
    a, b = power_law(n, 2.0 * n**-0.5)
    assert np.isclose(a, 2.0) and np.isclose(b, 0.5)
    # 2 / sqrt(n) = 0.05 at n = 1,600
    assert np.isclose(rows_for(0.95, a, b), 1600.0)
    assert rows_for(0.95, 1.0, 0.0) == float("inf")
