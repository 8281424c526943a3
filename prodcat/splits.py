"""Stratified held-out splits written back in the challenge format (for the benchmark and tests)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from prodcat.data import Listing


def write_listings(
    listings: list[Listing], out_dir: Path, split: str = "train", *, copy: bool = False
) -> Path:
    """X_/Y_ csv files, images_only.csv for photo-only rows, and the photos (linked, or copied
    when the output leaves the machine, as a processing job's does)."""
    photo_dir = out_dir / "images" / f"image_{split}"
    photo_dir.mkdir(parents=True, exist_ok=True)
    with (
        (out_dir / f"X_{split}.csv").open("w", newline="", encoding="utf-8") as fx,
        (out_dir / f"Y_{split}.csv").open("w", newline="", encoding="utf-8") as fy,
        (out_dir / "images_only.csv").open("w", newline="", encoding="utf-8") as fi,
    ):
        wx, wy, wi = csv.writer(fx), csv.writer(fy), csv.writer(fi)
        wx.writerow(["", "designation", "description", "productid", "imageid"])
        wy.writerow(["", "prdtypecode"])
        wi.writerow(["", "productid", "imageid", "prdtypecode"])
        for i, x in enumerate(listings):
            image_id = ""
            if x.photo is not None:
                image_id = x.photo.name.split("_")[1]
                target = photo_dir / x.photo.name
                if not target.exists():
                    if copy:
                        shutil.copyfile(x.photo, target)
                    else:
                        target.symlink_to(x.photo.resolve())
            if x.text:
                # The text is already clean: write it as the title, with no description.
                wx.writerow([i, x.text, "", x.product_id, image_id])
                wy.writerow([i, x.label])
            else:
                wi.writerow([i, x.product_id, image_id, x.label])
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
