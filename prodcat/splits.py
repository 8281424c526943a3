"""Stratified held-out splits written back in the challenge format (for the benchmark and tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from prodcat.data import ChallengeRow, Listing, write_split


def write_listings(
    listings: list[Listing], out_dir: Path, split: str = "train", *, copy: bool = False
) -> Path:
    """Listings back in the challenge format (prodcat.data.write_split), photos linked or copied."""
    rows = (
        ChallengeRow(
            product_id=x.product_id,
            text=x.text,
            label=x.label,
            photo=x.photo,
            image_id=x.photo.name.split("_")[1] if x.photo is not None else "",
        )
        for x in listings
    )
    write_split(rows, out_dir, split, copy=copy)
    return out_dir


def stratified_split(
    listings: list[Listing], test_size: float, seed: int
) -> tuple[list[Listing], list[Listing]]:
    labels = np.array([x.label for x in listings])
    counts = {c: int((labels == c).sum()) for c in set(labels.tolist())}
    # Classes with a single row cannot be split: they stay in training.
    idx = np.arange(len(listings))
    single = np.array([counts[c] < 2 for c in labels])
    tr, te = train_test_split(
        idx[~single], test_size=test_size, stratify=labels[~single], random_state=seed
    )
    return [listings[i] for i in sorted([*tr, *idx[single]])], [listings[i] for i in sorted(te)]
