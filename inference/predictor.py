"""Load the model once and answer listings; the serving half of the training/serving pair.

Serving builds features with the same functions training does: `listing_text` for the text,
`decode_photo` + the same encoder for the photo.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from prodcat.image_encoder import PhotoEncoder, photo_encoder
from prodcat.model import ProductTypeModel
from prodcat.photos import decode_photo
from prodcat_contracts.listing import Listing, Prediction, ProductType
from prodcat_contracts.text import listing_text


class Predictor:
    def __init__(self, model_dir: Path, encoder: PhotoEncoder | None = None) -> None:
        started = time.perf_counter()
        self.model = ProductTypeModel.load(model_dir)
        self.encoder = encoder or photo_encoder()
        self.load_seconds = time.perf_counter() - started

    def features(self, listings: list[Listing]) -> tuple[list[str], list[np.ndarray | None]]:
        """Text and photo features per listing. Raises PhotoError for a bad photo."""
        texts = [listing_text(x.designation, x.description) for x in listings]
        pixels = [decode_photo(b) if (b := x.photo_bytes()) is not None else None for x in listings]
        rows = [i for i, p in enumerate(pixels) if p is not None]
        feats: list[np.ndarray | None] = [None] * len(listings)
        if rows:
            encoded = self.encoder.encode(np.stack([pixels[i] for i in rows]))  # type: ignore[misc]
            for i, f in zip(rows, encoded, strict=True):
                feats[i] = f
        return texts, feats

    def predict(self, listings: list[Listing]) -> list[Prediction]:
        texts, feats = self.features(listings)
        probs, modes = self.model.predict_proba(texts, feats)
        out = []
        for listing, p, mode in zip(listings, probs, modes, strict=True):
            top = np.argsort(-p)[: listing.top_k]
            cats = self.model.taxonomy.categories
            out.append(
                Prediction(
                    predictions=[
                        ProductType(
                            code=cats[i].code,
                            name=cats[i].name_en,
                            name_fr=cats[i].name_fr,
                            probability=round(float(p[i]), 6),
                        )
                        for i in top
                    ],
                    model_version=self.model.version,
                    modalities={"text_only": ["text"], "image_only": ["photo"]}.get(
                        mode, ["text", "photo"]
                    ),
                )
            )
        return out
