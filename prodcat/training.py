"""Train a ProductTypeModel on a directory in the challenge format.

Calibration and fusion are fitted on out-of-fold predictions (K-fold over the training data),
then both heads are refitted on all of it: every labelled row serves both purposes, and no
test row is ever seen.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.special import log_softmax
from sklearn.model_selection import StratifiedKFold

from prodcat.calibration import fit_temperature
from prodcat.data import Listing, LoadReport, load_listings
from prodcat.features import encode_listing_photos
from prodcat.image_encoder import default_encoder
from prodcat.model import Fusion, Hyperparameters, ImageHead, ProductTypeModel, TextHead
from prodcat.taxonomy import Taxonomy, load_taxonomy
from prodcat.text_encoder import embed_texts

log = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    model: ProductTypeModel
    report: LoadReport
    seconds: float


def _folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    k = max(2, min(k, int(np.bincount(y).max())))
    with warnings.catch_warnings():
        # Rare classes have fewer rows than folds: sklearn warns, the split is still valid.
        warnings.simplefilter("ignore", UserWarning)
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _out_of_fold(
    fit_logits: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n: int,
    y: np.ndarray,
    n_classes: int,
    hp: Hyperparameters,
) -> np.ndarray:
    """Logits for each row from a head trained on the other folds."""
    oof = np.zeros((n, n_classes))
    for train_idx, test_idx in _folds(y, hp.folds, hp.seed):
        oof[test_idx] = fit_logits(train_idx, test_idx)
    return oof


def model_version(data_fingerprint: str, hp: Hyperparameters) -> str:
    """`YYYYmmddTHHMMSSZ-<8 hex>`: sortable by time, distinct by data and hyperparameters."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{data_fingerprint}{asdict(hp)}".encode()).hexdigest()[:8]
    return f"{stamp}-{digest}"


def train(
    data_dir: Path, hp: Hyperparameters | None = None, *, progress: bool = True
) -> TrainingResult:
    hp = hp or Hyperparameters()
    started = time.perf_counter()
    taxonomy: Taxonomy = load_taxonomy(data_dir)
    listings, report = load_listings(data_dir, taxonomy)
    photo_feats = encode_listing_photos(listings, default_encoder(), report, progress=progress)
    kept = [i for i, x in enumerate(listings) if x.has_text or photo_feats[i] is not None]
    listings = [listings[i] for i in kept]
    feats = [photo_feats[i] for i in kept]
    report.rows_kept = len(listings)
    if not listings:
        raise ValueError(f"no usable labelled listing in {data_dir}: {report.to_json()}")

    n_classes = len(taxonomy)
    y_all = np.array([taxonomy.index_of(int(x.label)) for x in listings])  # type: ignore[arg-type]
    text_rows = np.array([i for i, x in enumerate(listings) if x.has_text], dtype=int)
    image_rows = np.array([i for i, x in enumerate(listings) if feats[i] is not None], dtype=int)
    texts = [listings[i].text for i in text_rows]
    embeddings = embed_texts(texts) if len(text_rows) else np.zeros((0, 0))
    images = np.stack([feats[i] for i in image_rows]) if len(image_rows) else None
    yt, yi = y_all[text_rows], y_all[image_rows]

    text_head = image_head = None
    temps = {"text_only": 1.0, "image_only": 1.0, "text_image": 1.0}
    text_oof = np.zeros((len(listings), n_classes))
    image_oof = np.zeros((len(listings), n_classes))
    if len(text_rows):

        def text_fold(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
            head = TextHead(hp).fit([texts[i] for i in tr], embeddings[tr], yt[tr])
            return head.logits([texts[i] for i in te], embeddings[te], n_classes)

        logits = _out_of_fold(text_fold, len(text_rows), yt, n_classes, hp)
        temps["text_only"] = fit_temperature(logits, yt)
        text_oof[text_rows] = logits / temps["text_only"]
        text_head = TextHead(hp).fit(texts, embeddings, yt)
    if images is not None:
        imgs = images

        def image_fold(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
            return ImageHead(hp).fit(imgs[tr], yi[tr]).logits(imgs[te], n_classes)

        logits = _out_of_fold(image_fold, len(image_rows), yi, n_classes, hp)
        temps["image_only"] = fit_temperature(logits, yi)
        image_oof[image_rows] = logits / temps["image_only"]
        image_head = ImageHead(hp).fit(imgs, yi)

    both = np.intersect1d(text_rows, image_rows)
    t_lp, i_lp = log_softmax(text_oof[both], axis=1), log_softmax(image_oof[both], axis=1)
    fusion = Fusion.fit(t_lp, i_lp, y_all[both])
    temps["text_image"] = (
        fit_temperature(fusion.logits(t_lp, i_lp), y_all[both]) if len(both) else 1.0
    )

    seconds = time.perf_counter() - started
    model = ProductTypeModel(
        taxonomy=taxonomy,
        hyperparameters=hp,
        text_head=text_head,
        image_head=image_head,
        fusion=fusion,
        temperatures=temps,
        metadata={
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "training_seconds": round(seconds, 2),
            "data": {
                **report.to_json(),
                "rows_text": len(text_rows),
                "rows_photo": len(image_rows),
                "rows_text_and_photo": len(both),
                "class_counts": {
                    str(taxonomy.codes[c]): int(n)
                    for c, n in enumerate(np.bincount(y_all, minlength=n_classes))
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
