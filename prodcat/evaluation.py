"""Evaluate a model on a labelled directory: metrics per input mode, drift baseline, report."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prodcat.data import Listing, LoadReport, load_listings
from prodcat.features import encode_listing_photos
from prodcat.image_encoder import photo_encoder
from prodcat.language import detect_language
from prodcat.metrics import classification_metrics
from prodcat.model import MODES, ProductTypeModel

CONFIDENCE_BINS = np.linspace(0.0, 1.0, 11).tolist()
TEXT_LENGTH_BINS = [0, 1, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**9]


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    baseline: dict[str, Any]
    # Per mode: true class indices and predicted probabilities, for the report.
    predictions: dict[str, tuple[np.ndarray, np.ndarray]]
    report: LoadReport


def evaluate(model: ProductTypeModel, data_dir: Path, *, progress: bool = True) -> Evaluation:
    listings, report = load_listings(data_dir, model.taxonomy)
    feats = encode_listing_photos(listings, photo_encoder(), report, progress=progress)
    texts = [x.text for x in listings]
    y = np.array([model.taxonomy.index_of(int(x.label)) for x in listings])  # type: ignore[arg-type]
    has_text = np.array([bool(t) for t in texts])
    has_photo = np.array([f is not None for f in feats])

    # Each mode is scored on the rows that have what it needs, using only that.
    rows = {
        "text_only": np.where(has_text)[0],
        "image_only": np.where(has_photo)[0],
        "text_image": np.where(has_text & has_photo)[0],
    }
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for mode in MODES:
        idx = rows[mode]
        use_text, use_photo = mode != "image_only", mode != "text_only"
        if (
            len(idx) == 0
            or (use_text and model.text_head is None)
            or (use_photo and model.image_head is None)
        ):
            predictions[mode] = (np.zeros(0, dtype=int), np.zeros((0, model.n_classes)))
            continue
        probs, _ = model.predict_proba(
            [texts[i] if use_text else "" for i in idx],
            [feats[i] if use_photo else None for i in idx],
        )
        predictions[mode] = (y[idx], probs)

    metrics: dict[str, Any] = {
        mode: classification_metrics(probs, yy, model.n_classes)
        for mode, (yy, probs) in predictions.items()
    }
    metrics["model_version"] = model.version
    metrics["data"] = report.to_json()

    # The baseline describes what production traffic looks like: every listing as it comes,
    # with all it has (text and photo when both are there).
    all_probs, modes = model.predict_proba(texts, feats)
    baseline = build_baseline(model, listings, all_probs, modes, has_photo)
    return Evaluation(metrics, baseline, predictions, report)


def _histogram(values: Sequence[float] | np.ndarray, bins: Sequence[float]) -> dict[str, Any]:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=bins)
    total = max(int(counts.sum()), 1)
    return {"bins": [float(b) for b in bins], "shares": [float(c) / total for c in counts]}


def build_baseline(
    model: ProductTypeModel,
    listings: list[Listing],
    probs: np.ndarray,
    modes: list[str],
    has_photo: np.ndarray,
) -> dict[str, Any]:
    """The statistics that drift detection compares captured requests with."""
    n = max(len(listings), 1)
    top1 = probs.argmax(axis=1)
    codes = model.taxonomy.codes
    predicted = Counter(codes[i] for i in top1)
    languages = Counter(detect_language(x.text) for x in listings)
    return {
        "model_version": model.version,
        "n": len(listings),
        "predicted_class_shares": {str(c): predicted.get(c, 0) / n for c in codes},
        "true_class_shares": {str(c): sum(1 for x in listings if x.label == c) / n for c in codes},
        "top1_confidence": _histogram(probs.max(axis=1), CONFIDENCE_BINS),
        "text_length": _histogram([len(x.text) for x in listings], TEXT_LENGTH_BINS),
        "language_shares": {k: v / n for k, v in sorted(languages.items())},
        "photo_share": float(np.mean(has_photo)) if len(listings) else 0.0,
        "mode_shares": {m: modes.count(m) / n for m in MODES},
    }


def write_outputs(
    evaluation: Evaluation, model: ProductTypeModel, out_dir: Path
) -> dict[str, Path]:
    """metrics.json, baseline.json, report.md and confusion_matrix.png in `out_dir`."""
    from prodcat.report import write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out_dir / "metrics.json", "baseline": out_dir / "baseline.json"}
    paths["metrics"].write_text(json.dumps(evaluation.metrics, indent=2))
    paths["baseline"].write_text(json.dumps(evaluation.baseline, indent=2))
    paths.update(write_report(evaluation, model, out_dir))
    return paths
