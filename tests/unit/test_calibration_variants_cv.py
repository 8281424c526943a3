"""scripts.calibration_variants_cv: each variant refits only the calibration, on the inner rows."""

import numpy as np

from scripts.calibration_variants_cv import VARIANTS, score
from scripts.cv import MODES


def _logits(n: int = 240, k: int = 4, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Two outer folds of inner and held-out logits; a row in three has no photo, one no text."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)

    def heads(rows: np.ndarray, signal: float) -> np.ndarray:
        z = rng.normal(0, 1, (len(rows), k))
        z[np.arange(len(rows)), y[rows]] += signal
        return z

    out: dict[str, np.ndarray] = {}
    idx = np.arange(n)
    for f in range(2):
        tr, te = idx[idx % 2 != f], idx[idx % 2 == f]
        for part, rows in (("inner", tr), ("test", te)):
            t, i = heads(rows, 2.0), np.log(np.exp(heads(rows, 1.0)) / 3)
            t[rows % 7 == 0] = np.nan  # no text
            i[rows % 3 == 0] = np.nan  # no photo
            out |= {f"{part}_t{f}": t, f"{part}_i{f}": i}
        out |= {f"tr{f}": tr, f"te{f}": te, f"shrink{f}": np.array(0.97)}
    return out, y


def test_variants_keep_the_rows_and_change_only_what_they_name() -> None:
    logits, y = _logits()
    runs = {name: score(logits, y, VARIANTS[name]) for name in VARIANTS}
    shipped = runs["shipped"]
    for m in MODES:
        assert np.allclose(shipped[f"{m}_p"].sum(axis=1), 1.0)
        for run in runs.values():
            assert np.array_equal(run[f"{m}_y"], shipped[f"{m}_y"])
    assert len(shipped["text_image_y"]) == len(y) - np.sum(
        (np.arange(len(y)) % 7 == 0) | (np.arange(len(y)) % 3 == 0)
    )
    # The text mode is the same in every variant; `softmax_text` changes only text+photo (the
    # fusion's text input), the photo variants the photo mode.
    for run in runs.values():
        np.testing.assert_array_equal(run["text_only_p"], shipped["text_only_p"])
    np.testing.assert_array_equal(runs["softmax_text"]["image_only_p"], shipped["image_only_p"])
    assert not np.allclose(runs["softmax_text"]["text_image_p"], shipped["text_image_p"])
    for name in ("photo_top1", "photo_shrink"):
        assert not np.allclose(runs[name]["image_only_p"], shipped["image_only_p"])
