"""Temperature scaling recovers the temperature that generated the labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from prodcat.calibration import fit_temperature, nll, softmax
from prodcat.metrics import expected_calibration_error


def _sample(true_t: float, n: int = 20_000, classes: int = 10, seed: int = 0):
    """Logits z and labels y ~ softmax(z / true_t): the calibrated temperature is true_t."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, size=(n, classes))
    p = softmax(z, true_t)
    u = rng.random(n)[:, None]
    y = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), classes - 1)
    return z, y


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.0, 3.5])
def test_recovers_known_temperature(true_t: float) -> None:
    z, y = _sample(true_t)
    assert fit_temperature(z, y) == pytest.approx(true_t, rel=0.05)


def test_fitted_temperature_reduces_nll_and_ece() -> None:
    z, y = _sample(2.5, seed=1)
    t = fit_temperature(z, y)
    assert nll(z, y, t) < nll(z, y, 1.0) - 0.05
    assert nll(z, y, t) <= nll(z, y, 2.5) + 1e-9  # the optimum on this sample
    ece_raw = expected_calibration_error(softmax(z), y)
    ece_cal = expected_calibration_error(softmax(z, t), y)
    assert ece_raw > 0.1  # T=1 is badly overconfident here
    assert ece_cal < 0.02


def test_no_data_gives_temperature_one() -> None:
    assert fit_temperature(np.zeros((0, 27)), np.zeros(0, dtype=int)) == 1.0


def test_softmax_rows_are_distributions_and_temperature_flattens() -> None:
    z = np.array([[2.0, 1.0, 0.0], [10.0, -10.0, 0.0]])
    p1, p3 = softmax(z), softmax(z, 3.0)
    np.testing.assert_allclose(p1.sum(axis=1), 1.0)
    np.testing.assert_allclose(p3.sum(axis=1), 1.0)
    assert (p3.max(axis=1) < p1.max(axis=1)).all()
    np.testing.assert_array_equal(p1.argmax(axis=1), p3.argmax(axis=1))


class _Head:
    """A head with fixed logits per row: what the model does with them is under test."""

    def __init__(self, logits: np.ndarray) -> None:
        self._logits = logits

    def logits(self, *args: object) -> np.ndarray:
        return self._logits[: len(args[0])]  # type: ignore[arg-type]


def _model(
    text_z: np.ndarray, image_z: np.ndarray, t: dict[str, float], fusion: Any, **kw: Any
) -> Any:
    """A model whose heads answer these logits row by row."""
    from prodcat.model import Hyperparameters, ProductTypeModel
    from prodcat_contracts.taxonomy import builtin_taxonomy

    return ProductTypeModel(
        taxonomy=builtin_taxonomy(),
        hyperparameters=Hyperparameters(),
        text_head=_Head(text_z),  # type: ignore[arg-type]
        image_head=_Head(image_z),  # type: ignore[arg-type]
        fusion=fusion,
        temperatures=t,
        **kw,
    )


def test_predict_proba_applies_each_modes_fitted_temperature() -> None:
    from prodcat.model import Fusion
    from prodcat_contracts.taxonomy import builtin_taxonomy

    rng = np.random.default_rng(3)
    taxonomy = builtin_taxonomy()
    text_z, image_z = rng.normal(0, 3, (3, len(taxonomy))), rng.normal(0, 3, (3, len(taxonomy)))
    t = {"text_only": 2.0, "image_only": 0.5, "text_image": 3.0}  # none of them 1
    fusion = Fusion(a=0.8, b=1.3)
    model = _model(text_z, image_z, t, fusion)
    # Row 0: text only, row 1: photo only, row 2: both. Features stand in for photo pixels.
    features: list[np.ndarray | None] = [None, np.zeros(4), np.zeros(4)]
    probs, modes = model.predict_proba(["a", "", "c"], features, np.zeros((3, 8)))
    assert modes == ["text_only", "image_only", "text_image"]
    # Only the rows with text reach the text head (rows 0 and 2 -> its first two rows).
    np.testing.assert_allclose(probs[0], softmax(text_z[:1], t["text_only"])[0], rtol=1e-9)
    np.testing.assert_allclose(probs[1], softmax(image_z[:1], t["image_only"])[0], rtol=1e-9)
    # Both: the fusion of the calibrated heads' log-probabilities, divided by its own T.
    text_lp = np.log(softmax(text_z[1:2], t["text_only"]))
    image_lp = np.log(softmax(image_z[1:2], t["image_only"]))
    fused = fusion.logits(text_lp, image_lp)
    np.testing.assert_allclose(probs[2], softmax(fused, t["text_image"])[0], rtol=1e-9)
    assert not np.allclose(probs[2], softmax(fused)[0], rtol=1e-3)  # T = 3 shows


@pytest.mark.parametrize("text_top1", [True, False])
def test_the_fusion_reads_the_text_after_its_top1_map_when_fitted_so(text_top1: bool) -> None:
    # A model from before Fusion.text_top1 (False: the manifest lacks it) answers as it did.
    from prodcat.calibration import recalibrate_top1
    from prodcat.model import Fusion
    from prodcat_contracts.taxonomy import builtin_taxonomy

    rng = np.random.default_rng(4)
    taxonomy = builtin_taxonomy()
    text_z, image_z = rng.normal(0, 3, (1, len(taxonomy))), rng.normal(0, 3, (1, len(taxonomy)))
    t = {"text_only": 2.0, "image_only": 0.5, "text_image": 1.5}
    top1 = {"text_only": (0.6, 0.15), "text_image": (0.7, 0.1)}
    fusion = Fusion(a=0.9, b=0.5, text_top1=text_top1)
    model = _model(text_z, image_z, t, fusion, top1=top1)
    probs, modes = model.predict_proba(["a"], [np.zeros(4)], np.zeros((1, 8)))
    assert modes == ["text_image"]
    text_p = softmax(text_z, t["text_only"])
    if text_top1:
        text_p = recalibrate_top1(text_p, top1["text_only"])
    fused = fusion.logits(np.log(text_p), np.log(softmax(image_z, t["image_only"])))
    expected = recalibrate_top1(softmax(fused, t["text_image"]), top1["text_image"])
    np.testing.assert_allclose(probs, expected, rtol=1e-9)
