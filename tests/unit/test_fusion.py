"""The text+photo fusion weights: learned from which modality is informative."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax

from prodcat.model import Fusion


def _informative(
    y: np.ndarray, n_classes: int, signal: float, rng: np.random.Generator
) -> np.ndarray:
    logits = rng.normal(0, 1, (len(y), n_classes))
    logits[np.arange(len(y)), y] += signal
    return log_softmax(logits, axis=1)


def test_a_photo_that_says_nothing_gets_almost_no_weight() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 27, 600)
    text, noise = _informative(y, 27, 3.0, rng), _informative(y, 27, 0.0, rng)
    fusion = Fusion.fit(text, noise, y)
    assert fusion.a > 0.5 and fusion.b < 0.15 and fusion.c == []
    fused = fusion.logits(text, noise).argmax(1)
    assert np.mean(fused == y) >= np.mean(text.argmax(1) == y) - 0.01


def test_two_informative_modalities_beat_either_alone() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 27, 800)
    text, photo = _informative(y, 27, 2.0, rng), _informative(y, 27, 2.0, rng)
    fusion = Fusion.fit(text, photo, y)
    assert 0.5 < fusion.a / fusion.b < 2.0  # equally good: weighted alike
    fused = np.mean(fusion.logits(text, photo).argmax(1) == y)
    assert fused > max(np.mean(text.argmax(1) == y), np.mean(photo.argmax(1) == y)) + 0.05


def test_weights_are_never_negative_and_no_rows_means_plain_sum() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 5, 200)
    text = _informative(y, 5, 2.0, rng)
    misleading = _informative((y + 1) % 5, 5, 2.0, rng)  # a photo that points elsewhere
    assert Fusion.fit(text, misleading, y).b >= 0.0
    empty = Fusion.fit(np.zeros((0, 5)), np.zeros((0, 5)), np.zeros(0, dtype=int))
    assert (empty.a, empty.b) == (1.0, 1.0)


def test_a_manifest_from_before_text_top1_loads_as_reading_the_softmax() -> None:
    from dataclasses import asdict

    old: dict[str, Any] = {"a": 0.9, "b": 0.5, "c": []}  # a manifest's "fusion" until now
    assert Fusion(**old).text_top1 is False
    assert Fusion(**asdict(Fusion(0.9, 0.5, text_top1=True))).text_top1 is True


def test_training_fits_the_fusion_on_the_text_after_its_top1_map(tiny_data: Any) -> None:
    from prodcat.model import Hyperparameters
    from prodcat.training import fit_heads

    data = tiny_data(6)
    heads = fit_heads(data, Hyperparameters(profile="fast", folds=2))
    assert heads.fusion.text_top1 and "text_only" in heads.top1
