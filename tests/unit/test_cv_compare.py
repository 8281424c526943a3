"""scripts.cv_compare: the paired comparison of two CV runs."""

import numpy as np
import pytest

from scripts.cv_compare import compare_mode


def _run(y: np.ndarray, pred: np.ndarray, folds: np.ndarray) -> dict[str, np.ndarray]:
    p = np.full((len(y), 3), 0.1)
    p[np.arange(len(y)), pred] = 0.8
    out = {"classes": np.array(["10 Books", "40 Games", "50 Toys"])}
    for mode in ("text_only", "image_only"):
        out |= {f"{mode}_y": y, f"{mode}_p": p, f"{mode}_fold": folds}
    return out


def test_counts_fixed_and_broken_rows_folds_and_confusions() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    folds = np.array([0, 1, 0, 1, 0, 1])
    before = _run(y, np.array([1, 1, 1, 0, 2, 2]), folds)  # 3 right
    after = _run(y, np.array([0, 0, 1, 1, 2, 1]), folds)  # 5 right: 3 fixed, 1 broken
    text = "\n".join(compare_mode(before, after, "text_only"))
    assert "accuracy: 0.5000 -> 0.8333 (+0.3333)" in text
    assert "rows fixed 3, broken 1" in text
    # fold 0 (rows 0, 2, 4): 2/3 -> 3/3; fold 1 (rows 1, 3, 5): 1/3 -> 2/3
    assert "0.667 0.333 -> 1.000 0.667 (2 of 2 better, 0 equal)" in text
    assert "10 Books -> 40 Games 2 -> 0" in text
    assert "50 Toys -> 40 Games 0 -> 1" in text
    # Calibration per fold: every row at 0.8, so fold 0's ECE is |2/3 - 0.8| -> |1 - 0.8|.
    assert "ECE per fold: 0.133 0.467 -> 0.200 0.133 (1 of 2 lower)" in text
    assert "debiased CE: 0.0000 -> 0.0000, per fold:" in text


def test_refuses_runs_on_different_rows() -> None:
    y = np.array([0, 1, 2])
    before = _run(y, y, np.zeros(3, int))
    after = _run(np.array([0, 1, 1]), y, np.zeros(3, int))
    with pytest.raises(ValueError, match="different rows"):
        compare_mode(before, after, "image_only")


def test_a_mode_neither_run_scored_is_left_out() -> None:
    empty = {"text_only_y": np.array([], int), "text_only_p": np.zeros((0, 3))}
    assert compare_mode(empty, empty, "text_only") == []
