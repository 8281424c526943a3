"""Data lake contents for the pipeline tests, written the way the API writes them
(prodcat_contracts/lake.py) plus the base data under raw/base/."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodcat_contracts.lake import (
    FeedbackRecord,
    PhotoRef,
    ProductRecord,
    Tombstone,
    feedback_key,
    feedback_photo_key,
    product_photo_key,
    product_record_key,
    tombstone_key,
)
from prodcat_contracts.taxonomy import builtin_taxonomy
from sagemaker_jobs.prepare import split_of

RAW = "raw/"
BASE = f"{RAW}base/"
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def seed_base(s3: Any, bucket: str, catalog: Path) -> int:
    """Upload a challenge-format directory to raw/base/ (the README's `aws s3 sync`)."""
    files = sorted(p for p in catalog.rglob("*") if p.is_file())
    for path in files:
        _put(s3, bucket, BASE + path.relative_to(catalog).as_posix(), path.read_bytes())
    return len(files)


def _photo(s3: Any, bucket: str, key: str, data: bytes) -> PhotoRef:
    _put(s3, bucket, key, data)
    return PhotoRef(key=key, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def add_product(
    s3: Any, bucket: str, product_id: str, designation: str, code: int, photo: bytes | None
) -> ProductRecord:
    record = ProductRecord(
        product_id=product_id,
        designation=designation,
        prdtypecode=code,
        added_by="admin@example.com",
        added_at=WHEN,
        photo=None
        if photo is None
        else _photo(s3, bucket, product_photo_key(RAW, product_id, "jpg"), photo),
    )
    _put(s3, bucket, product_record_key(RAW, product_id), record.model_dump_json().encode())
    return record


def add_feedback(
    s3: Any, bucket: str, request_id: str, designation: str, code: int, photo: bytes | None
) -> FeedbackRecord:
    record = FeedbackRecord(
        request_id=request_id,
        prdtypecode=code,
        predicted_code=10,
        model_version="20260101T000000Z-00000000",
        designation=designation,
        given_at=WHEN,
        photo=None
        if photo is None
        else _photo(s3, bucket, feedback_photo_key(RAW, request_id, "jpg"), photo),
    )
    _put(s3, bucket, feedback_key(RAW, request_id, WHEN), record.model_dump_json().encode())
    return record


def add_tombstone(s3: Any, bucket: str, product_id: str) -> None:
    stone = Tombstone(product_id=product_id, deleted_by="admin@example.com", deleted_at=WHEN)
    _put(s3, bucket, tombstone_key(RAW, product_id), stone.model_dump_json().encode())


def base_rows(catalog: Path) -> list[tuple[str, int]]:
    """(product id, label) of the base data's X_train/Y_train rows."""
    with (catalog / "X_train.csv").open(newline="", encoding="utf-8") as fx:
        ids = {row[""]: row["productid"] for row in csv.DictReader(fx)}
    with (catalog / "Y_train.csv").open(newline="", encoding="utf-8") as fy:
        return [(ids[row[""]], int(row["prdtypecode"])) for row in csv.DictReader(fy)]


def delete_most_classes(s3: Any, bucket: str, catalog: Path, test_share: float) -> int:
    """Tombstone the training rows of two classes in three: an admin's bulk deletion that
    leaves a model much worse on the same test rows (which stay untouched)."""
    codes = builtin_taxonomy().codes
    dropped = {code for i, code in enumerate(codes) if i % 3 != 0}
    count = 0
    for product_id, label in base_rows(catalog):
        if label in dropped and split_of(product_id, test_share) == "train":
            add_tombstone(s3, bucket, product_id)
            count += 1
    return count


def restore_all(s3: Any, bucket: str) -> int:
    """Remove every tombstone (the products are back)."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{RAW}products/deleted/").get("Contents", [])
    for item in listed:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    return len(listed)
