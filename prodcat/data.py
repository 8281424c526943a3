"""Read and write a directory in the Rakuten challenge format.

Layout read (any split name S, e.g. `train`):
- `X_S.csv`: `,designation,description,productid,imageid` (first column: the row index)
- `Y_S.csv`: `,prdtypecode` for the same row index (absent for unlabelled data)
- photos `image_<imageid>_product_<productid>.jpg` anywhere below the directory
  (the challenge puts them in `images/image_S/`)
- optional `images_only.csv`: `,productid,imageid,prdtypecode`, labelled rows with a photo and no text

Only file names are indexed and only rows are held in memory; photos are read later, one batch
at a time, by the image encoder. Rows that cannot be used are counted by reason, never guessed.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prodcat_contracts.taxonomy import Taxonomy
from prodcat_contracts.text import listing_text

PHOTO_NAME = re.compile(r"^image_(\d+)_product_(\d+)\.jpe?g$", re.IGNORECASE)
IMAGES_ONLY_FILE = "images_only.csv"

# Descriptions can be long HTML documents: lift csv's 128 KiB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Listing:
    """One product listing: text, a photo path, or both; `label` is a prdtypecode or None."""

    product_id: str
    text: str
    photo: Path | None
    label: int | None
    row_id: str = ""

    @property
    def has_text(self) -> bool:
        return bool(self.text)

    @property
    def has_photo(self) -> bool:
        return self.photo is not None


@dataclass
class LoadReport:
    """What was read and what was skipped, by reason."""

    rows_read: int = 0
    rows_kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    photos_missing: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def to_json(self) -> dict[str, object]:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "skipped": dict(sorted(self.skipped.items())),
            "photos_missing": self.photos_missing,
        }


@dataclass(frozen=True)
class ChallengeRow:
    """One row to write: clean text (or none: a photo-only row) and/or a photo file."""

    product_id: str
    text: str
    label: int | None  # None: written as an empty prdtypecode
    photo: Path | None = None
    image_id: str = ""  # names the photo's file; required with a photo


def write_split(
    rows: Iterable[ChallengeRow], out_dir: Path, split: str, *, copy: bool = False
) -> None:
    """`X_<split>.csv`, `Y_<split>.csv`, `images_only.csv` for photo-only rows, and the photos
    under `images/image_<split>/` (linked, or copied when the output leaves the machine, as a
    processing job's does). The text is already clean: written as the title, with no
    description, so `load_listings` reads the same text back."""
    photo_dir = out_dir / "images" / f"image_{split}"
    photo_dir.mkdir(parents=True, exist_ok=True)
    with (
        (out_dir / f"X_{split}.csv").open("w", newline="", encoding="utf-8") as fx,
        (out_dir / f"Y_{split}.csv").open("w", newline="", encoding="utf-8") as fy,
        (out_dir / IMAGES_ONLY_FILE).open("w", newline="", encoding="utf-8") as fi,
    ):
        wx, wy, wi = csv.writer(fx), csv.writer(fy), csv.writer(fi)
        wx.writerow(["", "designation", "description", "productid", "imageid"])
        wy.writerow(["", "prdtypecode"])
        wi.writerow(["", "productid", "imageid", "prdtypecode"])
        for i, row in enumerate(rows):
            image_id = row.image_id if row.photo is not None else ""
            if row.photo is not None:
                # Always .jpg: the decoder reads the bytes, not the name.
                target = photo_dir / f"image_{image_id}_product_{row.product_id}.jpg"
                if not target.exists():
                    if copy:
                        shutil.copyfile(row.photo, target)
                    else:
                        target.symlink_to(row.photo.resolve())
            if row.text:
                wx.writerow([i, row.text, "", row.product_id, image_id])
                wy.writerow([i, row.label])
            else:
                wi.writerow([i, row.product_id, image_id, row.label])


class DataFormatError(ValueError):
    """The directory is not in the challenge format; the message says what is missing."""


def index_photos(root: Path) -> dict[tuple[str, str], Path]:
    """(imageid, productid) -> path for every photo below `root` (names only, no reads)."""
    found: dict[tuple[str, str], Path] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            m = PHOTO_NAME.match(name)
            if m:
                found[(m.group(1), m.group(2))] = Path(dirpath) / name
    return found


def _read_labels(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or "prdtypecode" not in header:
            raise DataFormatError(f"{path} has no `prdtypecode` column")
        col = header.index("prdtypecode")
        return {row[0]: row[col] for row in reader if len(row) > col}


def _parse_label(raw: str | None, taxonomy: Taxonomy, report: LoadReport) -> int | None:
    """The label, or None when the row must be skipped (the reason is recorded)."""
    if raw is None or not raw.strip():
        report.skip("missing_label")
        return None
    try:
        code = int(raw.strip())
    except ValueError:
        report.skip("invalid_label")
        return None
    if code not in taxonomy:
        report.skip("unknown_label")
        return None
    return code


def _photo(
    photos: dict[tuple[str, str], Path], image_id: str, product_id: str, report: LoadReport
) -> Path | None:
    path = photos.get((image_id.strip(), product_id.strip()))
    if path is None and image_id.strip():
        report.photos_missing += 1
    return path


def load_listings(
    data_dir: Path, taxonomy: Taxonomy, *, require_labels: bool = True
) -> tuple[list[Listing], LoadReport]:
    """Every usable listing in `data_dir`, and a report of what was skipped and why."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataFormatError(f"data directory not found: {data_dir}")
    x_files = sorted(data_dir.glob("X_*.csv"))
    images_only = data_dir / IMAGES_ONLY_FILE
    if not x_files and not images_only.is_file():
        raise DataFormatError(
            f"{data_dir} holds no X_<split>.csv (nor {IMAGES_ONLY_FILE}): not the challenge format"
        )
    photos = index_photos(data_dir)
    report = LoadReport()
    listings: list[Listing] = []

    for x_path in x_files:
        split = x_path.stem[2:]
        y_path = data_dir / f"Y_{split}.csv"
        labels: dict[str, str] | None = _read_labels(y_path) if y_path.is_file() else None
        if labels is None and require_labels:
            raise DataFormatError(f"{x_path.name} has no matching {y_path.name} with labels")
        with x_path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = {"designation", "description", "productid", "imageid"} - set(
                reader.fieldnames or []
            )
            if missing:
                raise DataFormatError(f"{x_path} lacks columns: {', '.join(sorted(missing))}")
            index_col = (reader.fieldnames or [""])[0]
            for row in reader:
                report.rows_read += 1
                row_id = f"{split}:{row[index_col]}"
                label: int | None = None
                if labels is not None:
                    label = _parse_label(labels.get(row[index_col]), taxonomy, report)
                    if label is None:
                        continue
                text = listing_text(row["designation"], row["description"])
                photo = _photo(photos, row["imageid"] or "", row["productid"] or "", report)
                if not text and photo is None:
                    report.skip("empty_listing")
                    continue
                listings.append(Listing(str(row["productid"]), text, photo, label, row_id))

    if images_only.is_file():
        with images_only.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            index_col = (reader.fieldnames or [""])[0]
            for row in reader:
                report.rows_read += 1
                code = _parse_label(row.get("prdtypecode"), taxonomy, report)
                if code is None:
                    continue
                photo = _photo(photos, row.get("imageid") or "", row.get("productid") or "", report)
                if photo is None:
                    report.skip("photo_only_row_without_photo")
                    continue
                listings.append(
                    Listing(str(row["productid"]), "", photo, code, f"images_only:{row[index_col]}")
                )

    report.rows_kept = len(listings)
    return listings, report
