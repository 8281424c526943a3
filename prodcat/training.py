"""Train a ProductTypeModel on a directory in the challenge format.

Each head is K-fold: one classifier per fold, their out-of-fold predictions fit the temperatures
and the fusion, and the shipped head is the folds' average (not a refit on all rows, which would
be sharper than what was calibrated). Every labelled row serves both purposes; no test row is
ever seen.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import log_softmax

from prodcat.calibration import VectorMap, fit_temperature, fit_top1, fit_vector_map, softmax
from prodcat.data import Listing, LoadReport, load_listings
from prodcat.features import encode_listing_photos
from prodcat.image_encoder import photo_encoder
from prodcat.model import (
    Fusion,
    Hyperparameters,
    ImageHead,
    ProductTypeModel,
    TextHead,
    top1_log_proba,
)
from prodcat_contracts.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    model: ProductTypeModel
    report: LoadReport
    seconds: float


def _folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K folds: each class's rows, shuffled, dealt round the folds in turn.

    Dealt by hand rather than by StratifiedKFold, which warns (UserWarning, "the least
    populated class...") whenever a class has fewer rows than folds: normal for rare
    classes, and a warnings filter around it is not thread-safe. Each class continues the
    deal where the previous one stopped, so small classes do not all land in fold 0.
    """
    k = max(2, min(k, int(np.bincount(y).max())))
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=int)
    start = 0
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        fold_of[rows] = (start + np.arange(len(rows))) % k
        start = (start + len(rows)) % k
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def model_version(data_fingerprint: str, hp: Hyperparameters) -> str:
    """`YYYYmmddTHHMMSSZ-<8 hex>`: sortable by time, distinct by data and hyperparameters."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{data_fingerprint}{asdict(hp)}".encode()).hexdigest()[:8]
    return f"{stamp}-{digest}"


@dataclass
class TrainingSet:
    """Labelled listings as arrays: what fitting needs, whatever directory they came from."""

    taxonomy: Taxonomy
    y: np.ndarray  # class index per listing
    texts: list[str]  # "" for a listing without text
    embeddings: np.ndarray  # (N, E5_DIM), zeros without text
    photos: list[np.ndarray | None]  # photo features, None without a usable photo

    def subset(self, idx: np.ndarray) -> TrainingSet:
        return TrainingSet(
            self.taxonomy,
            self.y[idx],
            [self.texts[i] for i in idx],
            self.embeddings[idx],
            [self.photos[i] for i in idx],
        )

    @property
    def text_rows(self) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.texts) if t], dtype=int)

    @property
    def image_rows(self) -> np.ndarray:
        return np.array([i for i, f in enumerate(self.photos) if f is not None], dtype=int)


def load_training_set(
    data_dir: Path, hp: Hyperparameters | None = None, *, progress: bool = True
) -> tuple[TrainingSet, list[Listing], LoadReport]:
    """Read, decode and embed a challenge-format directory (the slow part).

    The embeddings are what `hp`'s text head reads: zeros for one that reads no e5 (the fast
    profile), which would only spend a minute computing them on the dev data."""
    hp = hp or Hyperparameters()
    taxonomy: Taxonomy = load_taxonomy(data_dir)
    listings, report = load_listings(data_dir, taxonomy)
    photo_feats = encode_listing_photos(listings, photo_encoder(), report, progress=progress)
    kept = [i for i, x in enumerate(listings) if x.has_text or photo_feats[i] is not None]
    listings = [listings[i] for i in kept]
    report.rows_kept = len(listings)
    if not listings:
        raise ValueError(f"no usable labelled listing in {data_dir}: {report.to_json()}")
    y = np.array([taxonomy.index_of(int(x.label)) for x in listings])  # type: ignore[arg-type]
    texts = [x.text for x in listings]
    embeddings = hp.embed(texts)
    return (
        TrainingSet(taxonomy, y, texts, embeddings, [photo_feats[i] for i in kept]),
        listings,
        report,
    )


@dataclass
class FittedHeads:
    text_head: TextHead | None
    image_head: ImageHead | None
    fusion: Fusion
    temperatures: dict[str, float]
    top1: dict[str, tuple[float, float]]
    photo_map: VectorMap | None = None

    def model(self, taxonomy: Taxonomy, hp: Hyperparameters, **kw: Any) -> ProductTypeModel:
        """The model these heads make (`kw`: its version and metadata)."""
        return ProductTypeModel(
            taxonomy,
            hp,
            self.text_head,
            self.image_head,
            self.fusion,
            self.temperatures,
            top1=self.top1,
            photo_map=self.photo_map,
            **kw,
        )


def fit_heads(data: TrainingSet, hp: Hyperparameters) -> FittedHeads:
    """Both heads, the fusion and the temperatures, from out-of-fold predictions and a refit."""
    n_classes = len(data.taxonomy)
    text_rows, image_rows = data.text_rows, data.image_rows
    texts = [data.texts[i] for i in text_rows]
    embeddings = data.embeddings[text_rows]
    images = np.stack([data.photos[i] for i in image_rows]) if len(image_rows) else None
    yt, yi = data.y[text_rows], data.y[image_rows]
    n = len(data.y)

    text_head = image_head = None
    photo_map: VectorMap | None = None
    temps = {"text_only": 1.0, "image_only": 1.0, "text_image": 1.0}
    top1: dict[str, tuple[float, float]] = {}
    text_oof = np.zeros((n, n_classes))
    image_oof = np.zeros((n, n_classes))
    if len(text_rows):
        text_head = TextHead(hp)
        logits = text_head.fit_folds(
            texts, embeddings, yt, _folds(yt, hp.folds, hp.seed), n_classes
        )
        temps["text_only"] = fit_temperature(logits, yt)
        text_oof[text_rows] = logits / temps["text_only"]
        top1["text_only"] = fit_top1(softmax(text_oof[text_rows]), yt)
    if images is not None:
        image_head = ImageHead(hp)
        logits = image_head.fit_folds(images, yi, _folds(yi, hp.folds, hp.seed), n_classes)
        temps["image_only"] = fit_temperature(logits, yi)
        image_oof[image_rows] = logits / temps["image_only"]
        # No top-1 map for photos alone: the regression's probabilities are already calibrated by
        # the temperature, and the map made them worse in CV (ECE 0.032 -> 0.038, `make cv`).
        # A per-class vector map on the same out-of-fold rows, its pull picked by CV over the
        # head's own folds (`calibration.VectorMap`, figures there).
        photo_map = fit_vector_map(
            log_softmax(image_oof[image_rows], axis=1), yi, _folds(yi, hp.folds, hp.seed)
        )
        if photo_map is not None:
            image_oof[image_rows] = photo_map.apply(log_softmax(image_oof[image_rows], axis=1))

    # The fusion reads the photo after its vector map (applied above), as the model serves it:
    # text+photo NLL lower on 5 of 5 folds than fitted on the unmapped photo (VectorMap).
    both = np.intersect1d(text_rows, image_rows)
    t_lp, i_lp = log_softmax(text_oof[both], axis=1), log_softmax(image_oof[both], axis=1)
    if "text_only" in top1:
        # The fusion reads the text as the text mode answers it, after its top-1 map (NLL lower on
        # 5 of 5 CV folds: `Fusion`); the shipped model does the same (`fused_log_proba`).
        t_lp = top1_log_proba(t_lp, top1["text_only"])
    fusion = Fusion.fit(t_lp, i_lp, data.y[both])
    fusion.text_top1 = "text_only" in top1
    if len(both):
        fused = fusion.logits(t_lp, i_lp)
        # The NLL-fitted weights already set the scale (this temperature came out 1.000 on all
        # five outer folds of `scripts.cv`); the top-1 map is what calibrates text+photo: without
        # it the CV's ECE was 0.072, with it 0.049 (lower on 4 of 5 folds).
        temps["text_image"] = fit_temperature(fused, data.y[both])
        top1["text_image"] = fit_top1(softmax(fused, temps["text_image"]), data.y[both])
    return FittedHeads(text_head, image_head, fusion, temps, top1, photo_map)


def train(
    data_dir: Path, hp: Hyperparameters | None = None, *, progress: bool = True
) -> TrainingResult:
    hp = hp or Hyperparameters()
    started = time.perf_counter()
    data, listings, report = load_training_set(data_dir, hp, progress=progress)
    heads = fit_heads(data, hp)
    n_classes = len(data.taxonomy)
    seconds = time.perf_counter() - started
    model = heads.model(
        data.taxonomy,
        hp,
        metadata={
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "training_seconds": round(seconds, 2),
            "data": {
                **report.to_json(),
                "rows_text": len(data.text_rows),
                "rows_photo": len(data.image_rows),
                "rows_text_and_photo": len(np.intersect1d(data.text_rows, data.image_rows)),
                "class_counts": {
                    str(data.taxonomy.codes[c]): int(k)
                    for c, k in enumerate(np.bincount(data.y, minlength=n_classes))
                },
                "fingerprint": _fingerprint(listings),
            },
            "hyperparameters": asdict(hp),
            "python": platform.python_version(),
        },
    )
    model.version = model_version(model.metadata["data"]["fingerprint"], hp)
    return TrainingResult(model, report, seconds)


def _fingerprint(listings: list[Listing]) -> str:
    """A hash of what was trained on (ids, texts, labels, photo names): the data version."""
    h = hashlib.sha256()
    for x in listings:
        photo = x.photo.name if x.photo else ""
        h.update(f"{x.row_id}\x1f{x.product_id}\x1f{x.label}\x1f{x.text}\x1f{photo}\n".encode())
    return h.hexdigest()[:16]
