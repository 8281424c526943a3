"""POST /predict: classify a listing, then record it (request log + capture) and measure it."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.api import endpoint, request_log, undelivered
from lambdas.api.delivery import deliver, put_object
from lambdas.api.identity import Caller
from lambdas.api.models import (
    LogEntry,
    LoggedInput,
    LoggedPrediction,
    PredictRequest,
    PredictResponse,
)
from lambdas.api.photos import accepted_photo
from lambdas.api.settings import ApiSettings
from prodcat_contracts.lake import (
    CaptureRecord,
    PhotoRef,
    ScoredType,
    capture_key,
    capture_photo_key,
    photo_extension,
)
from prodcat_contracts.listing import Prediction

LOW_CONFIDENCE = 0.5  # a top-1 probability under this counts toward the low-confidence rate


def input_mode(modalities: list[str]) -> str:
    """The model's name for what it used (prodcat.model.MODES), as the baseline counts it."""
    if "text" in modalities and "photo" in modalities:
        return "text_image"
    return "image_only" if "photo" in modalities else "text_only"


def capture_record(
    request: PredictRequest,
    photo: bytes | None,
    answer: Prediction,
    *,
    request_id: str,
    now: datetime,
    latency_ms: float,
    capture_prefix: str,
) -> CaptureRecord:
    photo_ref = None
    if photo is not None:
        extension = photo_extension(photo) or "bin"
        photo_ref = PhotoRef(
            key=capture_photo_key(capture_prefix, request_id, now, extension),
            bytes=len(photo),
            sha256=hashlib.sha256(photo).hexdigest(),
        )
    return CaptureRecord(
        request_id=request_id,
        requested_at=now,
        model_version=answer.model_version,
        designation=request.designation,
        description=request.description,
        photo=photo_ref,
        mode=input_mode(answer.modalities),
        predictions=[
            ScoredType(code=p.code, probability=p.probability) for p in answer.predictions
        ],
        latency_ms=latency_ms,
    )


def log_entry(record: CaptureRecord, answer: Prediction, user_id: str) -> LogEntry:
    return LogEntry(
        prediction_id=request_log.prediction_id(record.requested_at, record.request_id),
        user_id=user_id,
        requested_at=record.requested_at,
        input=LoggedInput(
            designation=record.designation,
            description=record.description,
            photo_bytes=record.photo.bytes if record.photo else None,
        ),
        predictions=[
            LoggedPrediction(code=p.code, name=p.name, probability=p.probability)
            for p in answer.predictions
        ],
        model_version=answer.model_version,
        latency_ms=record.latency_ms,
    )


def save(
    record: CaptureRecord, entry: LogEntry, photo: bytes | None, settings: ApiSettings
) -> None:
    """The prediction was made: store it, or queue it; never fail the caller over it."""
    bucket, queue = settings.data_lake_bucket, settings.undelivered_queue_url
    if photo is not None and record.photo is not None:
        photo_key = record.photo.key
        deliver(
            undelivered.s3_object(
                "capture_photo", bucket, photo_key, photo, "application/octet-stream"
            ),
            lambda: put_object(bucket, photo_key, photo, "application/octet-stream"),
            queue,
        )
    key = capture_key(settings.capture_prefix, record.request_id, record.requested_at)
    body = record.model_dump_json().encode()
    deliver(
        undelivered.s3_object("capture", bucket, key, body, "application/json"),
        lambda: put_object(bucket, key, body, "application/json"),
        queue,
    )
    item = request_log.log_item(
        entry,
        request_id=record.request_id,
        photo=record.photo,
        mode=record.mode,
        ttl_days=settings.request_log_ttl_days,
    )
    table = settings.request_log_table
    item_key = {"user_id": item["user_id"], "requested_at": item["requested_at"]}
    deliver(
        undelivered.dynamodb_item("request_log", table, item_key, item),
        lambda: request_log.put(table, item),
        queue,
    )


def measure(metrics: Metrics, record: CaptureRecord) -> None:
    top1 = record.top1
    metrics.add_metric(name="PredictLatency", unit=MetricUnit.Milliseconds, value=record.latency_ms)
    metrics.add_metric(name="Top1Confidence", unit=MetricUnit.NoUnit, value=top1.probability)
    metrics.add_metric(
        name="LowConfidence", unit=MetricUnit.Count, value=int(top1.probability < LOW_CONFIDENCE)
    )
    # The class goes in a dimension of its own metric: 27 series, one per product type.
    with single_metric(
        name="PredictedClass",
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as predicted:
        predicted.add_dimension(name="ProductType", value=str(top1.code))


def predict(
    request: PredictRequest,
    caller: Caller,
    request_id: str,
    settings: ApiSettings,
    metrics: Metrics,
) -> PredictResponse:
    photo = accepted_photo(request.photo)
    started = time.perf_counter()
    answer = endpoint.invoke(settings.endpoint_name, request.model_dump(exclude_none=True))
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    record = capture_record(
        request,
        photo,
        answer,
        request_id=request_id,
        now=datetime.now(UTC),
        latency_ms=latency_ms,
        capture_prefix=settings.capture_prefix,
    )
    entry = log_entry(record, answer, caller.user_id)
    save(record, entry, photo, settings)
    measure(metrics, record)
    return PredictResponse(
        prediction_id=entry.prediction_id,
        predictions=answer.predictions,
        model_version=answer.model_version,
        modalities=answer.modalities,
        latency_ms=latency_ms,
    )
