"""scripts.calibration_variants_cv: each variant refits only the calibration, on the inner rows."""

import numpy as np

from prodcat.calibration import with_top1
from scripts.calibration_variants_cv import (
    VARIANTS,
    _beta_map,
    _likelihood,
    score,
    soft_confusion,
)
from scripts.cv import MODES
from scripts.fusion_ceiling import held_out_inputs, stacker_top1


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
        out[f"ens_i{f}"] = out[f"inner_i{f}"] * 0.9  # an average of regressions: less sharp
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
    for name in ("photo_top1", "photo_shrink", "photo_beta", "photo_vector", "photo_ens_oof"):
        assert not np.allclose(runs[name]["image_only_p"], shipped["image_only_p"])
        assert np.allclose(runs[name]["image_only_p"].sum(axis=1), 1.0)
    # Top-1 maps keep every photo's answer; the vector map may change it.
    for name in ("photo_top1", "photo_shrink", "photo_beta", "photo_shrink_beta", "photo_ens_oof"):
        np.testing.assert_array_equal(
            runs[name]["image_only_p"].argmax(axis=1), shipped["image_only_p"].argmax(axis=1)
        )
    # Photo maps alone leave text+photo as it is (the fusion reads the temperature's answer).
    for name in ("photo_beta", "photo_vector"):
        np.testing.assert_array_equal(runs[name]["text_image_p"], shipped["text_image_p"])
    # ... unless the fusion reads the mapped photo, as the shipped model now does.
    np.testing.assert_array_equal(
        runs["photo_vector_fused"]["image_only_p"], runs["photo_vector"]["image_only_p"]
    )
    assert not np.allclose(runs["photo_vector_fused"]["text_image_p"], shipped["text_image_p"])


def test_beta_map_keeps_the_order_and_the_sum() -> None:
    rng = np.random.default_rng(1)
    p = np.exp(rng.normal(0, 1.5, (400, 5)))
    p /= p.sum(axis=1, keepdims=True)
    y = np.where(
        rng.random(400) < p.max(axis=1) ** 0.7, p.argmax(axis=1), (p.argmax(axis=1) + 1) % 5
    )
    mapped = _beta_map(p, y)(p)
    np.testing.assert_array_equal(mapped.argmax(axis=1), p.argmax(axis=1))
    np.testing.assert_allclose(mapped.sum(axis=1), 1.0)
    # The map's target is more confident than p (y is right more often than p says).
    assert mapped.max(axis=1).mean() > p.max(axis=1).mean()
    # with_top1 with the top-1 unchanged is the identity.
    np.testing.assert_allclose(with_top1(p, p.max(axis=1)), p)


def test_fusion_forms_change_only_text_and_photo_together() -> None:
    logits, y = _logits()
    shipped = score(logits, y, VARIANTS["shipped"])
    forms = [name for name, o in VARIANTS.items() if o.fusion_form != "loglinear"]
    assert forms
    for name in forms:
        run = score(logits, y, VARIANTS[name])
        np.testing.assert_array_equal(run["image_only_p"], shipped["image_only_p"])
        np.testing.assert_allclose(run["text_image_p"].sum(axis=1), 1.0)
        assert not np.allclose(run["text_image_p"], shipped["text_image_p"]), name


def test_soft_confusion_is_a_likelihood_that_knows_the_photos_errors() -> None:
    # Type 0's photos always look like type 1; type 1's and 2's are recognised.
    answer = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    y = np.repeat([0, 1, 2], 50)
    lp = np.log(np.repeat(answer, 50, axis=0))
    ratio = soft_confusion(lp, y)
    m = np.exp(lp).mean(axis=0)
    np.testing.assert_allclose((np.exp(ratio) * m).sum(axis=1), 1.0)  # rows of M sum to 1
    like = _likelihood(np.log(answer[[1]]), ratio)[0]
    # A photo that looks like type 1 is as likely under type 0 as under type 1, not a veto of 0.
    assert abs(like[0] - like[1]) < 0.05
    assert like[2] < like[0] - 0.5


def test_fusion_ceiling_bounds_the_fitted_fusion() -> None:
    logits, y = _logits()
    t, i, yb, fused = held_out_inputs(logits, y)
    assert t.shape == i.shape == fused.shape and len(yb) == len(t)
    text = np.mean(t.argmax(axis=1) == yb)
    # The stacker's first two features are the log-linear fusion's inputs.
    assert stacker_top1(t, i, yb) >= np.mean((t + 0.5 * i).argmax(axis=1) == yb) - 0.02
    assert np.mean(fused.argmax(axis=1) == yb) >= text - 0.05
