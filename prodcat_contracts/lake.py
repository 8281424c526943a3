"""What the API writes to the data lake: the contract with the pipeline's prepare step and the
drift job. Every record is JSON, one object per S3 key; photos are separate objects beside it.

    capture/date=YYYY-MM-DD/<request_id>.json          CaptureRecord (one per /predict)
    capture/date=YYYY-MM-DD/<request_id>.<ext>         the photo sent, if any
    raw/products/records/<product_id>.json             ProductRecord (admin-added, labelled)
    raw/products/photos/<product_id>.<ext>             its photo, if any
    raw/products/deleted/<product_id>.json             Tombstone: leave this product out of training
    raw/feedback/date=YYYY-MM-DD/<request_id>.json     FeedbackRecord (the seller's final choice)
    raw/feedback/photos/<request_id>.<ext>             the photo of that listing, if any

The zones are prefixes of one bucket (`ZONES`); the stack passes them to the API (RAW_PREFIX,
CAPTURE_PREFIX) and to the pipeline, and the layout below them is fixed here. The production
model's reports sit at fixed keys (`PRODUCTION_*`): the pipeline's deploy step writes them, the
drift job reads the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DataLakeZones:
    """Key prefixes: the contract between the API, the jobs and the pipeline."""

    raw: str = "raw/"  # listings and photos as they arrive (base data, admin products, feedback)
    curated: str = "curated/"  # versioned training sets: curated/<run id>/{train,validation,test}/
    artifacts: str = "models/artifacts/"  # model.tar.gz per training job
    reports: str = "models/reports/"  # metrics.json and baseline.json per run
    capture: str = "capture/"  # request capture records for drift
    predictions: str = "models/predictions/"  # the catalogue classified: <model version>/output/


ZONES = DataLakeZones()
# Under the raw zone: the challenge-format base data (`aws s3 sync DATA_DIR s3://BUCKET/raw/base/`).
BASE_DIR = "base"

# The model in service's reports, at fixed keys beside the per-run ones.
PRODUCTION_PREFIX = "models/production/"
PRODUCTION_METRICS_KEY = f"{PRODUCTION_PREFIX}metrics.json"
PRODUCTION_BASELINE_KEY = f"{PRODUCTION_PREFIX}baseline.json"
# What the prepare and evaluate jobs write beside their data, read by the state machine.
DATASET_MANIFEST = "dataset.json"
SMOKE_CASES = "smoke_cases.json"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); the key may be a prefix (empty for the whole bucket)."""
    without = uri.removeprefix("s3://")
    bucket, _, key = without.partition("/")
    if without == uri or not bucket:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return bucket, key


# The first bytes of each photo format the model decodes, and the extension it is stored under.
PHOTO_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


def photo_extension(data: bytes) -> str | None:
    """The file extension for a photo's format, or None when it is not one the model reads."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for signature, extension in PHOTO_SIGNATURES:
        if data.startswith(signature):
            return extension
    return None


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = SCHEMA_VERSION


class PhotoRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str = Field(description="S3 key of the photo in the data lake bucket")
    bytes: int = Field(ge=1)
    sha256: str


class ScoredType(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: int
    probability: float = Field(ge=0, le=1)


class CaptureRecord(_Record):
    """One prediction as the drift job sees it: the input, what the model said, how fast."""

    request_id: str
    requested_at: datetime
    model_version: str
    designation: str | None = None
    description: str | None = None
    photo: PhotoRef | None = None
    mode: str = Field(description="text_only, image_only or text_image")
    predictions: list[ScoredType] = Field(description="top-k, most probable first")
    latency_ms: float = Field(ge=0)

    @property
    def top1(self) -> ScoredType:
        return self.predictions[0]


class ProductRecord(_Record):
    """A labelled product an admin added: training data from the next run on."""

    product_id: str
    designation: str | None = None
    description: str | None = None
    photo: PhotoRef | None = None
    prdtypecode: int
    added_by: str
    added_at: datetime


class Tombstone(_Record):
    """A product to leave out of training (admin-added or from the base data)."""

    product_id: str
    deleted_by: str
    deleted_at: datetime


class FeedbackRecord(_Record):
    """The product type a seller finally chose for a listing that was predicted: a label."""

    request_id: str
    prdtypecode: int = Field(description="the type the seller chose")
    predicted_code: int = Field(description="what the model ranked first")
    model_version: str
    designation: str | None = None
    description: str | None = None
    photo: PhotoRef | None = None
    given_at: datetime


def date_partition(moment: datetime) -> str:
    return f"date={moment.strftime('%Y-%m-%d')}/"


def capture_key(capture_prefix: str, request_id: str, requested_at: datetime) -> str:
    return f"{capture_prefix}{date_partition(requested_at)}{request_id}.json"


def capture_photo_key(
    capture_prefix: str, request_id: str, requested_at: datetime, extension: str
) -> str:
    return f"{capture_prefix}{date_partition(requested_at)}{request_id}.{extension}"


def product_record_key(raw_prefix: str, product_id: str) -> str:
    return f"{raw_prefix}products/records/{product_id}.json"


def product_photo_key(raw_prefix: str, product_id: str, extension: str) -> str:
    return f"{raw_prefix}products/photos/{product_id}.{extension}"


def tombstone_key(raw_prefix: str, product_id: str) -> str:
    return f"{raw_prefix}products/deleted/{product_id}.json"


def feedback_key(raw_prefix: str, request_id: str, given_at: datetime) -> str:
    return f"{raw_prefix}feedback/{date_partition(given_at)}{request_id}.json"


def feedback_photo_key(raw_prefix: str, request_id: str, extension: str) -> str:
    return f"{raw_prefix}feedback/photos/{request_id}.{extension}"
