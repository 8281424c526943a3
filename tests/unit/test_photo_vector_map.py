"""The photo's per-class vector map: fitted in training, recorded, served where training applied it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import log_softmax

from prodcat.calibration import VectorMap, fit_vector_map
from prodcat.model import Fusion, Hyperparameters, ProductTypeModel
from prodcat.training import TrainingSet, _folds, fit_heads
from prodcat_contracts.taxonomy import builtin_taxonomy


def _biased(n: int, bias: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated probabilities, and those log-probabilities shifted by -bias:
    what a head that under-scores class k by bias[k] answers."""
    rng = np.random.default_rng(seed)
    true_lp = log_softmax(rng.normal(0, 2.0, (n, len(bias))), axis=1)
    y = np.array([rng.choice(len(bias), p=np.exp(row)) for row in true_lp])
    return log_softmax(true_lp - bias, axis=1), y


def test_the_fit_recovers_a_known_per_class_bias() -> None:
    bias = np.array([0.8, -0.5, 0.0, 0.3, -0.6])
    lp, y = _biased(6000, bias, 0)
    m = fit_vector_map(lp, y, _folds(y, 5, 0))
    assert m is not None and m.lam in (1e-4, 1e-3)  # a real shift: the weakest pulls win
    # Biases are defined up to a constant (softmax): compare them centred.
    got = np.asarray(m.bias)
    np.testing.assert_allclose(got - got.mean(), bias - bias.mean(), atol=0.1)
    np.testing.assert_allclose(m.scale, 1.0, atol=0.1)
    nll = -np.mean(m.apply(lp)[np.arange(len(y)), y])
    assert nll < -np.mean(lp[np.arange(len(y)), y]) - 0.05


def test_a_huge_pull_is_the_identity_and_no_rows_no_map() -> None:
    lp, y = _biased(500, np.array([1.0, -1.0, 0.0]), 1)
    m = fit_vector_map(lp, y, _folds(y, 3, 0), lams=(1e6,))
    assert m is not None
    np.testing.assert_allclose(m.scale, 1.0, atol=1e-5)
    np.testing.assert_allclose(m.bias, 0.0, atol=1e-5)
    np.testing.assert_allclose(m.apply(lp), lp, atol=1e-4)
    assert fit_vector_map(np.zeros((0, 3)), np.zeros(0, dtype=int), []) is None


def test_the_fit_is_deterministic() -> None:
    lp, y = _biased(800, np.array([0.5, 0.0, -0.5, 0.2]), 2)
    assert fit_vector_map(lp, y, _folds(y, 5, 0)) == fit_vector_map(lp, y, _folds(y, 5, 0))


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_data: Callable[[int], TrainingSet]
) -> tuple[ProductTypeModel, Path]:
    """A small fast-profile model with photos, saved."""
    data = tiny_data(8)
    taxonomy = data.taxonomy
    hp = Hyperparameters(profile="fast", folds=2)
    heads = fit_heads(data, hp)
    assert heads.photo_map is not None and len(heads.photo_map.scale) == len(taxonomy)
    model = heads.model(taxonomy, hp)
    out = tmp_path_factory.mktemp("model")
    model.save(out)
    return model, out


TEXTS = ["mot3 commun1", "", "mot7 commun0"]


def _photos() -> list[np.ndarray | None]:
    rng = np.random.default_rng(9)
    return [None, rng.normal(2, 1, 8), rng.normal(3, 1, 8)]


def test_the_map_is_recorded_and_serves_what_training_fitted(
    trained: tuple[ProductTypeModel, Path],
) -> None:
    model, path = trained
    manifest = json.loads((path / "manifest.json").read_text())
    recorded = manifest["photo_vector_map"]
    assert len(recorded["scale"]) == len(recorded["bias"]) == model.n_classes
    loaded = ProductTypeModel.load(path)
    assert loaded.photo_map == model.photo_map
    a, modes = model.predict_proba(TEXTS, _photos())
    b, _ = loaded.predict_proba(TEXTS, _photos())
    assert modes == ["text_only", "image_only", "text_image"]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)


class _Head:
    """A head with fixed logits per row (as tests/unit/test_calibration.py's)."""

    def __init__(self, logits: np.ndarray) -> None:
        self._logits = logits

    def logits(self, *args: object) -> np.ndarray:
        return self._logits[: len(args[0])]  # type: ignore[arg-type]


def test_photo_answers_and_the_fusions_photo_input_are_mapped() -> None:
    """Serving's parity with `fit_heads`: the photo mode and the fusion read the mapped photo."""
    rng = np.random.default_rng(4)
    k = 27
    text_z, image_z = rng.normal(0, 3, (2, k)), rng.normal(0, 3, (2, k))
    t = {"text_only": 1.5, "image_only": 0.7, "text_image": 1.0}
    vm = VectorMap(tuple(rng.uniform(0.7, 1.3, k)), tuple(rng.normal(0, 0.5, k)), 1e-3)
    fusion = Fusion(a=0.8, b=1.3)
    model = ProductTypeModel(
        builtin_taxonomy(),
        Hyperparameters(),
        _Head(text_z),  # type: ignore[arg-type]
        _Head(image_z),  # type: ignore[arg-type]
        fusion,
        t,
        photo_map=vm,
    )
    probs, _ = model.predict_proba(["", "x"], [np.zeros(4), np.zeros(4)], np.zeros((2, 8)))
    photo_lp = vm.apply(log_softmax(image_z / t["image_only"], axis=1))
    np.testing.assert_allclose(probs[0], np.exp(photo_lp[0]), rtol=1e-9)
    fused = fusion.logits(log_softmax(text_z[:1] / t["text_only"], axis=1), photo_lp[1:2])
    np.testing.assert_allclose(probs[1], np.exp(log_softmax(fused, axis=1))[0], rtol=1e-9)


def _edited(path: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the model at `path` with its manifest edited."""
    copy = tmp_path / "edited"
    shutil.copytree(path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_a_manifest_without_the_map_answers_exactly_as_before(
    trained: tuple[ProductTypeModel, Path], tmp_path: Path
) -> None:
    model, path = trained
    loaded = ProductTypeModel.load(_edited(path, tmp_path, lambda m: m.pop("photo_vector_map")))
    assert loaded.photo_map is None
    # The same model as it answered before the map existed.
    before, _ = replace(model, photo_map=None).predict_proba(TEXTS, _photos())
    got, _ = loaded.predict_proba(TEXTS, _photos())
    np.testing.assert_array_equal(got, before)
    mapped, _ = model.predict_proba(TEXTS, _photos())
    assert not np.allclose(got[1:], mapped[1:])  # the map does move photo answers
    np.testing.assert_array_equal(got[0], mapped[0])  # and never a text-only one


def test_a_wrong_length_map_is_refused(
    trained: tuple[ProductTypeModel, Path], tmp_path: Path
) -> None:
    bad = _edited(trained[1], tmp_path, lambda m: m["photo_vector_map"]["scale"].pop())
    with pytest.raises(ValueError, match=r"26 scales and 27 biases for a taxonomy of 27 classes"):
        ProductTypeModel.load(bad)
