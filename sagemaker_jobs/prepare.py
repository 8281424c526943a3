"""SageMaker processing job: the data lake's raw zone -> this run's versioned training set.

Input (`--input`, the raw zone as SageMaker downloads it; the layout is prodcat_contracts/lake.py's):

    base/                                      the base data, challenge format (seeded once, see README)
    products/records/<product_id>.json         ProductRecord: a labelled product an admin added
    products/photos/<product_id>.<ext>         its photo
    products/deleted/<product_id>.json         Tombstone: never train on this product again
    feedback/date=YYYY-MM-DD/<request_id>.json FeedbackRecord: the type a seller finally chose
    feedback/photos/<request_id>.<ext>         the photo of that listing

Output (`--output`, uploaded to curated/<run id>/):

    train/ [validation/] test/   challenge format (X_<split>.csv, Y_<split>.csv, images_only.csv,
                                 images/image_<split>/image_<imageid>_product_<productid>.jpg),
                                 plus sources.csv (productid -> where the row came from)
    dataset.json                 `DatasetManifest`: data version, code version, counts, drops

Rules, in order: unusable rows are counted by reason (as `prodcat.data` does); tombstoned
products go (unless re-added after the tombstone); one row per id (an admin's record beats the
base row, the newest record wins); one row per content (same text and same photo bytes: a
duplicate across splits would leak test rows into training). The split is a hash of the id, so
a product stays in its split in every run and champion and challenger meet the same test rows.
Feedback has no product id: its id is `feedback-<request_id>`.

The data version is a hash of the rows written (ids, labels, texts, photo bytes): two runs on
the same data get the same version, whatever the order the lake listed the files in.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prodcat.data import ChallengeRow, write_split
from prodcat_contracts import job_env
from prodcat_contracts.lake import (
    BASE_DIR,
    DATASET_MANIFEST,
    ZONES,
    FeedbackRecord,
    PhotoRef,
    ProductRecord,
    Tombstone,
)
from sagemaker_jobs.paths import PROCESSING, write_failure

TEST_SHARE = 0.15
VALIDATION_SHARE = 0.0
FEEDBACK_ID_PREFIX = "feedback-"
SOURCES_FILE = "sources.csv"

Source = Literal["base", "product", "feedback"]
Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
# When the same id or the same content comes from several places, the higher rank wins: an
# admin's record is a deliberate label, a seller's choice a fresh one, the base data the oldest.
SOURCE_RANK: dict[Source, int] = {"base": 0, "feedback": 1, "product": 2}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bucket(source_id: str) -> float:
    """A stable number in [0, 1] for an id: the same in every run, on every machine."""
    return int(hashlib.sha256(source_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def in_test_split(product_id: str, share: float = TEST_SHARE) -> bool:
    return _bucket(product_id) < share


def split_of(
    source_id: str, test_share: float = TEST_SHARE, validation_share: float = VALIDATION_SHARE
) -> Split:
    """test below `test_share`, then validation, then train: growing one share never moves
    a test row elsewhere."""
    bucket = _bucket(source_id)
    if bucket < test_share:
        return "test"
    if bucket < test_share + validation_share:
        return "validation"
    return "train"


@dataclass(frozen=True)
class Row:
    """One labelled listing from any source, before it is written."""

    source: Source
    source_id: str
    text: str
    label: int
    photo: Path | None
    photo_sha256: str | None
    # When the row was recorded (None for the base data): the newest record of an id wins,
    # and a record newer than its tombstone is a re-added product.
    recorded_at: datetime | None
    image_id: str | None = None  # the base data's own image id, kept in the output

    @property
    def precedence(self) -> tuple[int, datetime, str]:
        return (SOURCE_RANK[self.source], self.recorded_at or _EPOCH, self.source_id)


@dataclass
class SourceReport:
    read: int = 0
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    photos_missing: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "read": self.read,
            "kept": self.kept,
            "skipped": dict(sorted(self.skipped.items())),
            "photos_missing": self.photos_missing,
        }


class SplitSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: int
    rows_with_photo: int
    class_counts: dict[str, int]


class DatasetManifest(BaseModel):
    """dataset.json: what the pipeline records as the data lineage of the model it trains."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    data_version: str = Field(description="hash of the rows written; same data, same version")
    code_version: str
    run_id: str
    created_at: datetime
    test_share: float
    validation_share: float
    splits: dict[str, SplitSummary]
    sources: dict[str, dict[str, object]]
    removed: dict[str, int]


def photo_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _lake_photo(raw_dir: Path, raw_prefix: str, photo: PhotoRef | None) -> Path | None:
    """The downloaded file for a PhotoRef (an S3 key under the raw prefix), if it is there."""
    if photo is None or not photo.key.startswith(raw_prefix):
        return None
    path = raw_dir / photo.key.removeprefix(raw_prefix)
    return path if path.is_file() else None


def read_base(raw_dir: Path, report: SourceReport) -> list[Row]:
    """The challenge-format base data, through the same loader training uses."""
    from prodcat.data import load_listings
    from prodcat_contracts.taxonomy import load_taxonomy

    base = raw_dir / BASE_DIR
    if not base.is_dir():
        return []
    # Labels optional: the challenge's own X_test.csv has none; such rows are counted, not fatal.
    listings, load = load_listings(base, load_taxonomy(base), require_labels=False)
    report.read += load.rows_read
    report.skipped.update(load.skipped)
    report.photos_missing += load.photos_missing
    rows = []
    for listing in listings:
        if listing.label is None:
            report.skipped["unlabelled"] += 1
            continue
        rows.append(
            Row(
                source="base",
                source_id=listing.product_id,
                text=listing.text,
                label=listing.label,
                photo=listing.photo,
                photo_sha256=photo_digest(listing.photo) if listing.photo else None,
                recorded_at=None,
                image_id=listing.photo.name.split("_")[1] if listing.photo else None,
            )
        )
    return rows


_Record = TypeVar("_Record", bound=BaseModel)


def _records(
    paths: Iterable[Path], model: type[_Record], report: SourceReport
) -> Iterator[_Record]:
    for path in sorted(paths):
        report.read += 1
        try:
            yield model.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError):
            report.skipped["invalid_record"] += 1


def _row(
    *,
    source: Source,
    source_id: str,
    designation: str | None,
    description: str | None,
    label: int,
    photo: Path | None,
    recorded_at: datetime,
    report: SourceReport,
    known_codes: frozenset[int],
    photo_expected: bool,
) -> Row | None:
    from prodcat_contracts.text import listing_text

    if label not in known_codes:
        report.skipped["unknown_label"] += 1
        return None
    if photo_expected and photo is None:
        report.photos_missing += 1  # the text is still a labelled listing
    text = listing_text(designation, description)
    if not text and photo is None:
        report.skipped["empty_listing"] += 1
        return None
    return Row(
        source=source,
        source_id=source_id,
        text=text,
        label=label,
        photo=photo,
        photo_sha256=photo_digest(photo) if photo else None,
        recorded_at=recorded_at,
    )


def read_products(
    raw_dir: Path, raw_prefix: str, known_codes: frozenset[int], report: SourceReport
) -> list[Row]:
    rows = []
    paths = (raw_dir / "products" / "records").glob("*.json")
    for record in _records(paths, ProductRecord, report):
        row = _row(
            source="product",
            source_id=record.product_id,
            designation=record.designation,
            description=record.description,
            label=record.prdtypecode,
            photo=_lake_photo(raw_dir, raw_prefix, record.photo),
            recorded_at=record.added_at,
            report=report,
            known_codes=known_codes,
            photo_expected=record.photo is not None,
        )
        if row is not None:
            rows.append(row)
    return rows


def read_feedback(
    raw_dir: Path, raw_prefix: str, known_codes: frozenset[int], report: SourceReport
) -> list[Row]:
    rows = []
    paths = (raw_dir / "feedback").glob("date=*/*.json")
    for record in _records(paths, FeedbackRecord, report):
        row = _row(
            source="feedback",
            source_id=f"{FEEDBACK_ID_PREFIX}{record.request_id}",
            designation=record.designation,
            description=record.description,
            label=record.prdtypecode,
            photo=_lake_photo(raw_dir, raw_prefix, record.photo),
            recorded_at=record.given_at,
            report=report,
            known_codes=known_codes,
            photo_expected=record.photo is not None,
        )
        if row is not None:
            rows.append(row)
    return rows


def read_tombstones(raw_dir: Path) -> dict[str, datetime | None]:
    """product id -> when it was deleted. A tombstone that cannot be parsed still deletes the
    product its key names (None: deleted for good): a deletion must never be lost."""
    deleted: dict[str, datetime | None] = {}
    for path in sorted((raw_dir / "products" / "deleted").glob("*.json")):
        try:
            stone = Tombstone.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError):
            deleted[path.stem] = None
            continue
        previous = deleted.get(stone.product_id, stone.deleted_at)
        if previous is None:
            continue
        deleted[stone.product_id] = max(previous, stone.deleted_at)
    return deleted


def apply_tombstones(rows: list[Row], deleted: dict[str, datetime | None]) -> tuple[list[Row], int]:
    kept = []
    for row in rows:
        if row.source_id in deleted:
            when = deleted[row.source_id]
            readded = when is not None and row.recorded_at is not None and row.recorded_at > when
            if not readded:
                continue
        kept.append(row)
    return kept, len(rows) - len(kept)


def drop_duplicates(rows: list[Row]) -> tuple[list[Row], dict[str, int]]:
    """One row per id, then one row per content (text, photo bytes); the highest precedence wins."""
    by_id: dict[str, Row] = {}
    for row in rows:
        best = by_id.get(row.source_id)
        if best is None or row.precedence > best.precedence:
            by_id[row.source_id] = row
    by_content: dict[tuple[str, str], Row] = {}
    conflicts = 0
    for row in sorted(by_id.values(), key=lambda r: r.source_id):
        key = (row.text.casefold(), row.photo_sha256 or "")
        best = by_content.get(key)
        if best is not None and best.label != row.label:
            conflicts += 1
        if best is None or row.precedence > best.precedence:
            by_content[key] = row
    kept = sorted(by_content.values(), key=lambda r: r.source_id)
    return kept, {
        "duplicate_id": len(rows) - len(by_id),
        "duplicate_content": len(by_id) - len(kept),
        "label_conflicts": conflicts,
    }


def numeric_id(source_id: str) -> str:
    """The challenge format names photos `image_<digits>_product_<digits>.jpg`: ids that are not
    digits (feedback ids, admin ids with letters) get a stable 19-digit stand-in; sources.csv
    maps it back."""
    if source_id.isdigit():
        return source_id
    return "9" + str(int(hashlib.sha256(source_id.encode()).hexdigest()[:15], 16)).zfill(18)


def write_curated_split(rows: list[Row], out_dir: Path, split: Split) -> SplitSummary:
    """The challenge format (prodcat.data.write_split), photos copied (the output leaves the
    machine), and sources.csv: where each row came from."""
    written = []
    for row in rows:
        has_photo = row.photo is not None and row.photo_sha256 is not None
        written.append(
            ChallengeRow(
                product_id=numeric_id(row.source_id),
                text=row.text,  # already clean (listing_text): it loads back as the same text
                label=row.label,
                photo=row.photo if has_photo else None,
                # The base data's own image id, else one from the photo's hash.
                image_id=(row.image_id or str(int(row.photo_sha256[:12], 16)))
                if has_photo and row.photo_sha256
                else "",
            )
        )
    write_split(written, out_dir, split, copy=True)
    with (out_dir / SOURCES_FILE).open("w", newline="", encoding="utf-8") as fs:
        ws = csv.writer(fs)
        ws.writerow(["productid", "source", "source_id"])
        ws.writerows(
            [w.product_id, r.source, r.source_id] for w, r in zip(written, rows, strict=True)
        )
    counts = Counter(str(r.label) for r in rows)
    return SplitSummary(
        rows=len(rows),
        rows_with_photo=sum(r.photo is not None for r in rows),
        class_counts=dict(sorted(counts.items(), key=lambda kv: int(kv[0]))),
    )


def data_version(rows_by_split: dict[Split, list[Row]]) -> str:
    h = hashlib.sha256()
    for split in SPLITS:
        for row in rows_by_split.get(split, []):
            h.update(
                f"{split}\x1f{row.source_id}\x1f{row.label}\x1f{row.text}\x1f"
                f"{row.photo_sha256 or ''}\n".encode()
            )
    return h.hexdigest()[:16]


def code_version_from_env() -> str:
    """The jobs image's version (set by the pipeline), else the installed package's."""
    from importlib.metadata import PackageNotFoundError, version

    if value := os.environ.get(job_env.CODE_VERSION):
        return value
    try:
        return f"prodcat-{version('prodcat')}"
    except PackageNotFoundError:
        return "unknown"


def run(
    raw_dir: Path,
    out_dir: Path,
    test_share: float = TEST_SHARE,
    *,
    validation_share: float = VALIDATION_SHARE,
    raw_prefix: str = ZONES.raw,
    run_id: str = "",
    code_version: str | None = None,
) -> dict[str, Any]:
    """Build the training set in `out_dir` from the raw zone in `raw_dir`; return the manifest
    (dataset.json's content)."""
    from prodcat.data import DataFormatError
    from prodcat_contracts.taxonomy import builtin_taxonomy

    if not 0 < test_share < 1 or not 0 <= validation_share < 1 - test_share:
        raise ValueError("need 0 < test_share < 1 and 0 <= validation_share < 1 - test_share")
    known = frozenset(builtin_taxonomy().codes)
    reports = {name: SourceReport() for name in ("base", "products", "feedback")}
    rows = [
        *read_base(raw_dir, reports["base"]),
        *read_products(raw_dir, raw_prefix, known, reports["products"]),
        *read_feedback(raw_dir, raw_prefix, known, reports["feedback"]),
    ]
    rows, tombstoned = apply_tombstones(rows, read_tombstones(raw_dir))
    rows, duplicates = drop_duplicates(rows)
    by_split: dict[Split, list[Row]] = {s: [] for s in SPLITS}
    for row in rows:
        by_split[split_of(row.source_id, test_share, validation_share)].append(row)
    if not by_split["train"] or not by_split["test"]:
        raise DataFormatError(
            f"{raw_dir} yields {len(by_split['train'])} training and {len(by_split['test'])} "
            f"test rows: seed the base data under {raw_prefix}{BASE_DIR}/ (see the README)"
        )
    for row in rows:
        source = {"base": "base", "product": "products", "feedback": "feedback"}[row.source]
        reports[source].kept += 1
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries: dict[str, SplitSummary] = {
        split: write_curated_split(by_split[split], out_dir / split, split)
        for split in SPLITS
        if by_split[split] or split != "validation"
    }
    manifest = DatasetManifest(
        data_version=data_version(by_split),
        code_version=code_version or code_version_from_env(),
        run_id=run_id,
        created_at=datetime.now(UTC),
        test_share=test_share,
        validation_share=validation_share,
        splits=summaries,
        sources={name: report.to_json() for name, report in reports.items()},
        removed={"tombstoned": tombstoned, **duplicates},
    )
    (out_dir / DATASET_MANIFEST).write_text(manifest.model_dump_json(indent=2))
    return manifest.model_dump(mode="json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=PROCESSING / "input")
    parser.add_argument("--output", type=Path, default=PROCESSING / "output")
    parser.add_argument("--test-share", type=float, default=TEST_SHARE)
    parser.add_argument("--validation-share", type=float, default=VALIDATION_SHARE)
    parser.add_argument("--raw-prefix", default=ZONES.raw, help="S3 prefix of the raw zone")
    args = parser.parse_args(argv)
    try:
        manifest = run(
            args.input,
            args.output,
            args.test_share,
            validation_share=args.validation_share,
            raw_prefix=args.raw_prefix,
            run_id=os.environ.get(job_env.RUN_ID, ""),
        )
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}", "processing")
        raise
    print(json.dumps({k: manifest[k] for k in ("data_version", "splits", "removed")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
