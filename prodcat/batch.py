"""`prodcat batch`: classify a whole catalogue, resumably, with bounded memory.

The catalogue is a directory (or an S3 prefix) in the challenge format; each row becomes one
JSON Lines listing (`inference/batch.py`'s contract: id = productid, the text, the photo as a
key relative to the catalogue), and each listing one output line with its top-k and the model
version, or an error line saying what is wrong with that row.

Output, in `--out` (a directory or s3://bucket/prefix/):

    part-00000.jsonl        answers for rows 0..part_size-1, in row order
    part-00000.done         written after its part: rows, errors, the part's input hash, model
    ...
    _SUCCESS                written last: totals

A crash loses at most the part in progress: a rerun skips each part whose marker names the same
input hash and model version, and redoes the rest. Memory holds one part's lines (default 1,000
rows) plus the photo index (names only), whatever the catalogue's size.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prodcat.data import IMAGES_ONLY_FILE, PHOTO_NAME, DataFormatError, index_photos
from prodcat_contracts.lake import split_s3_uri

PART_ROWS = 1_000
SUCCESS = "_SUCCESS"
COLUMNS = {"designation", "description", "productid", "imageid"}
PHOTO_ONLY_COLUMNS = {"productid", "imageid"}


def _rows(
    x_file: Iterable[str], name: str, photos: dict[tuple[str, str], str]
) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(x_file)
    columns = PHOTO_ONLY_COLUMNS if name.endswith(IMAGES_ONLY_FILE) else COLUMNS
    missing = columns - set(reader.fieldnames or [])
    if missing:
        raise DataFormatError(f"{name} lacks columns: {', '.join(sorted(missing))}")
    for row in reader:
        line: dict[str, Any] = {"id": (row["productid"] or "").strip()}
        for column in ("designation", "description"):
            if row.get(column):
                line[column] = row[column]
        key = photos.get(((row["imageid"] or "").strip(), line["id"]))
        if key is not None:
            line["photo_key"] = key
        yield line


def _catalogue_files(data_dir: Path) -> list[Path]:
    """The listing files: X_<split>.csv, then images_only.csv (photo-only rows)."""
    if not data_dir.is_dir():
        return []
    photo_only = data_dir / IMAGES_ONLY_FILE
    return sorted(data_dir.glob("X_*.csv")) + ([photo_only] if photo_only.is_file() else [])


def local_catalogue(data_dir: Path, key_prefix: str = "") -> Iterator[dict[str, Any]]:
    """One listing per row of every X_*.csv below `data_dir` (photo keys relative to it)."""
    data_dir = Path(data_dir)
    x_files = _catalogue_files(data_dir)
    if not x_files:
        raise DataFormatError(f"{data_dir} holds no X_<split>.csv: not the challenge format")
    photos = {
        ids: key_prefix + path.relative_to(data_dir).as_posix()
        for ids, path in index_photos(data_dir).items()
    }
    for x_path in x_files:
        with x_path.open(newline="", encoding="utf-8") as f:
            yield from _rows(f, x_path.name, photos)


def s3_catalogue(s3: Any, uri: str) -> Iterator[dict[str, Any]]:
    """The same rows from s3://bucket/prefix/ (photo keys: the objects' full keys)."""
    bucket, prefix = split_s3_uri(uri)
    prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    x_keys: list[str] = []
    photos: dict[tuple[str, str], str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key, name = item["Key"], item["Key"].rsplit("/", 1)[-1]
            if key == prefix + name and (
                (name.startswith("X_") and name.endswith(".csv")) or name == IMAGES_ONLY_FILE
            ):
                x_keys.append(key)
            elif m := PHOTO_NAME.match(name):
                photos[(m.group(1), m.group(2))] = key
    if not x_keys:
        raise DataFormatError(f"{uri} holds no X_<split>.csv: not the challenge format")
    for key in sorted(x_keys, key=lambda k: k.endswith(IMAGES_ONLY_FILE)):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with io.TextIOWrapper(body, encoding="utf-8", newline="") as f:
            yield from _rows(f, key, photos)


def count_rows(data_dir: Path) -> int:
    total = 0
    for x_path in _catalogue_files(Path(data_dir)):
        with x_path.open(newline="", encoding="utf-8") as f:
            total += sum(1 for _ in csv.reader(f)) - 1
    return max(total, 0)


def chunks(listings: Iterable[dict[str, Any]], size: int) -> Iterator[list[bytes]]:
    part: list[bytes] = []
    for listing in listings:
        part.append(json.dumps(listing, ensure_ascii=False, separators=(",", ":")).encode())
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


class PartStore(Protocol):
    def read(self, name: str) -> bytes | None: ...
    def write(self, name: str, data: bytes) -> None: ...
    def remove(self, name: str) -> None: ...


@dataclass(frozen=True)
class DirectoryParts:
    root: Path

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None

    def write(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(self.root / name)  # a crash leaves the old file or the new, never half

    def remove(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)


@dataclass(frozen=True)
class S3Parts:
    s3: Any
    uri: str

    def _where(self, name: str) -> tuple[str, str]:
        bucket, prefix = split_s3_uri(self.uri)
        return bucket, (prefix if not prefix or prefix.endswith("/") else prefix + "/") + name

    def read(self, name: str) -> bytes | None:
        bucket, key = self._where(name)
        try:
            return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def write(self, name: str, data: bytes) -> None:  # a PUT is atomic
        bucket, key = self._where(name)
        self.s3.put_object(Bucket=bucket, Key=key, Body=data)

    def remove(self, name: str) -> None:
        bucket, key = self._where(name)
        self.s3.delete_object(Bucket=bucket, Key=key)


def part_store(out: str | Path, s3: Any = None) -> PartStore:
    if str(out).startswith("s3://"):
        import boto3

        return S3Parts(s3 or boto3.client("s3"), str(out))
    return DirectoryParts(Path(out))


@dataclass
class BatchSummary:
    rows: int = 0
    errors: int = 0
    parts: int = 0
    parts_skipped: int = 0
    model_version: str = ""
    errors_by_status: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_batch(
    listings: Iterable[dict[str, Any]],
    store: PartStore,
    classify: Any,
    model_version: str,
    *,
    part_rows: int = PART_ROWS,
    on_part: Any = None,
) -> BatchSummary:
    """Classify `listings` a part at a time into `store`; skip the parts already done.

    `classify(lines) -> list[dict]` answers one part (inference.batch.classify_lines).
    """
    summary = BatchSummary(model_version=model_version)
    store.remove(SUCCESS)  # until this run completes, the output is not known to be whole
    for number, lines in enumerate(chunks(listings, part_rows)):
        name = f"part-{number:05d}"
        digest = hashlib.sha256(b"\n".join(lines)).hexdigest()
        marker = store.read(f"{name}.done")
        done = json.loads(marker) if marker else None
        if done and done["input_sha256"] == digest and done["model_version"] == model_version:
            summary.parts_skipped += 1
            counts = done["errors_by_status"]
        else:
            answers = classify(lines)
            counts = {}
            for answer in answers:
                if "error" in answer:
                    counts[str(answer["status"])] = counts.get(str(answer["status"]), 0) + 1
            store.write(
                f"{name}.jsonl",
                b"".join(json.dumps(a, ensure_ascii=False).encode() + b"\n" for a in answers),
            )
            store.write(
                f"{name}.done",
                json.dumps(
                    {
                        "rows": len(lines),
                        "input_sha256": digest,
                        "model_version": model_version,
                        "errors_by_status": counts,
                    }
                ).encode(),
            )
        summary.parts += 1
        summary.rows += len(lines)
        for status, n in counts.items():
            summary.errors_by_status[status] = summary.errors_by_status.get(status, 0) + n
            summary.errors += n
        if on_part:
            on_part(len(lines))
    store.write(SUCCESS, json.dumps(summary.to_json(), indent=2).encode())
    return summary
