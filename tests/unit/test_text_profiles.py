"""The text head's serving path and the `fast` profile: same scores as the plain pipeline,
no e5 where the profile has none, and a clear refusal of an unknown profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix, hstack

import prodcat.model
from prodcat.model import Fusion, Hyperparameters, ProductTypeModel, TextHead
from prodcat.text_encoder import E5_DIM
from prodcat_contracts.taxonomy import builtin_taxonomy

TEXTS = [
    "Piscine hors sol tubulaire Intex 366 x 76 cm",
    "Robot de piscine électrique Zodiac",
    "Jeu de société Monopoly édition classique",
    "Puzzle 1000 pièces paysage de montagne",
    "Console de jeux portable avec deux manettes",
    "Figurine Dragon Ball Z Goku 18 cm",
    "Livre de cuisine française, 200 recettes",
    "Roman policier en poche, édition 2019",
]
LABELS = np.array([0, 0, 1, 1, 2, 3, 4, 4])


def _embeddings(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, E5_DIM)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


@pytest.mark.parametrize("title_weight", [1.0, 2.5])
def test_serving_features_are_the_union_pipelines_columns(title_weight: float) -> None:
    hp = Hyperparameters(title_weight=title_weight)
    head = TextHead(hp).fit(TEXTS, _embeddings(len(TEXTS)), LABELS)
    queries = [*TEXTS[:3], "piscine jeu livre figurine inconnue", "x"]
    emb = _embeddings(len(queries), seed=1)
    plain = hstack([head.vectorizer.transform(queries), csr_matrix(emb * head.e5_weight)]).tocsr()
    direct = head.features(queries, emb)
    assert direct.shape == plain.shape
    assert (direct != plain).nnz == 0
    np.testing.assert_array_equal(
        head.classifier.decision_function(direct), head.classifier.decision_function(plain)
    )


def test_fast_profile_reads_words_only_and_never_calls_e5(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hp = Hyperparameters(profile="fast")
    head = TextHead(hp)
    assert head.e5_weight == 0.0
    assert [type(v).__name__ for _, v in head.vectorizer.transformer_list] == ["TfidfVectorizer"]
    assert head.vectorizer.transformer_list[0][1].analyzer == "word"
    head.fit(TEXTS, np.zeros((len(TEXTS), E5_DIM), np.float32), LABELS)
    model = ProductTypeModel(
        taxonomy=builtin_taxonomy(),
        hyperparameters=hp,
        text_head=head,
        image_head=None,
        fusion=Fusion(),
        temperatures={"text_only": 1.0, "image_only": 1.0, "text_image": 1.0},
    )

    def no_e5(texts: list[str], *args: object) -> np.ndarray:
        raise AssertionError("the fast profile must not embed")

    monkeypatch.setattr(prodcat.model, "embed_texts", no_e5)
    probs, modes = model.predict_proba(["Piscine tubulaire", "Puzzle montagne"], [None, None])
    assert modes == ["text_only", "text_only"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert list(probs.argmax(axis=1)) == [0, 1]


def test_default_profile_embeds(monkeypatch: pytest.MonkeyPatch) -> None:
    hp = Hyperparameters()
    head = TextHead(hp).fit(TEXTS, _embeddings(len(TEXTS)), LABELS)
    model = ProductTypeModel(
        builtin_taxonomy(), hp, head, None, Fusion(), dict.fromkeys(prodcat.model.MODES, 1.0)
    )
    calls: list[tuple[list[str], int, str, int]] = []

    def fake_e5(texts: list[str], max_chars: int, reads: str, layers: int) -> np.ndarray:
        calls.append((texts, max_chars, reads, layers))
        return _embeddings(len(texts), seed=2)

    monkeypatch.setattr(prodcat.model, "embed_texts", fake_e5)
    model.predict_proba(["Piscine tubulaire"], [None])
    assert calls == [(["Piscine tubulaire"], hp.e5_max_chars, hp.e5_reads, hp.e5_layers)]


def test_the_text_svm_weighs_classes_as_the_hyperparameter_says() -> None:
    assert Hyperparameters().text_class_weight == "balanced"
    assert TextHead(Hyperparameters()).classifier.class_weight == "balanced"
    assert TextHead(Hyperparameters(profile="fast")).classifier.class_weight == "balanced"
    none = Hyperparameters.from_json({"text_class_weight": "none"})
    assert TextHead(none).classifier.class_weight is None
    with pytest.raises(
        ValueError, match="text_class_weight must be one of balanced, none, not 'auto'"
    ):
        Hyperparameters(text_class_weight="auto")


def test_an_unknown_profile_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="profile must be one of default, fast, not 'turbo'"):
        Hyperparameters.from_json({"profile": "turbo"})
    assert Hyperparameters.from_json({"profile": "fast"}).profile == "fast"


def test_training_the_fast_profile_never_embeds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import prodcat.training
    from prodcat.sample_catalog import write_sample_catalog

    def no_e5(texts: list[str], *args: object) -> np.ndarray:
        raise AssertionError("training the fast profile must not embed")

    monkeypatch.setattr(prodcat.model, "embed_texts", no_e5)
    catalog = write_sample_catalog(tmp_path / "catalog", per_class=3, photo_share=0.0)
    result = prodcat.training.train(catalog, Hyperparameters(profile="fast"), progress=False)
    assert result.model.text_head is not None and result.model.text_head.e5_weight == 0.0
    assert not Hyperparameters(profile="fast").uses_e5 and not Hyperparameters(e5_weight=0).uses_e5
    assert Hyperparameters().uses_e5


def test_the_title_block_reads_the_title_alone_at_its_weight() -> None:
    """The title's n-grams come from the text before " . " (how `listing_text` joins title and
    description), scaled by `title_weight`; a description changes only the other blocks."""
    texts = [f"{t} . description commune" if i % 2 else t for i, t in enumerate(TEXTS)]
    heads = {
        w: TextHead(Hyperparameters(title_weight=w)).fit(texts, _embeddings(len(texts)), LABELS)
        for w in (0.0, 1.0, 3.0)
    }
    assert [n for n, _ in heads[0.0].vectorizer.transformer_list] == ["words", "chars"]
    title = dict(heads[1.0].vectorizer.transformer_list)["title"]
    assert "description" not in "".join(title.vocabulary_)
    assert prodcat.model.title_of("Piscine Intex . Robot de piscine") == "piscine intex"
    emb = _embeddings(2, seed=2)
    plain, described = ["Piscine Intex 366"], ["Piscine Intex 366 . robot livre jeu"]
    n_title = len(title.vocabulary_)
    for w in (1.0, 3.0):
        a = heads[w].features(plain, emb[:1]).toarray()
        b = heads[w].features(described, emb[:1]).toarray()
        title_cols = slice(a.shape[1] - E5_DIM - n_title, a.shape[1] - E5_DIM)
        np.testing.assert_array_equal(a[:, title_cols], b[:, title_cols])
        assert np.linalg.norm(a[:, title_cols]) == pytest.approx(w, rel=1e-5)


def test_the_fast_profile_has_no_title_block() -> None:
    head = TextHead(Hyperparameters(profile="fast", title_weight=2.0))
    assert [n for n, _ in head.vectorizer.transformer_list] == ["words"]
