"""The drift job end to end: a real baseline (evaluation of the session's model), capture
records of that model's real answers in S3 (moto), and the metrics it publishes to CloudWatch
(moto), read back with the dimensions the alarms use."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from prodcat.drift import FEATURES, Statistics, compare
from prodcat_contracts.lake import CaptureRecord, PhotoRef, ScoredType, capture_key
from sagemaker_jobs import drift as drift_job

REGION = "eu-west-3"
BUCKET = "prodcat-test-lake"
UNTIL = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)


@dataclass(frozen=True)
class Listing:
    designation: str
    description: str
    features: np.ndarray | None  # photo features, None without a photo


@dataclass(frozen=True)
class Scenario:
    baseline: dict[str, Any]
    model_version: str
    listings: list[Listing]
    answers: np.ndarray  # probabilities of the model with text and photo
    modes: list[str]
    photo_answers: np.ndarray  # probabilities of the model on the photo alone (rows with one)


def _index(row_id: str) -> str:
    """The X_*.csv row index of a listing (`row_id` is `<split>:<index>`)."""
    return row_id.rpartition(":")[2]


@pytest.fixture(scope="module")
def scenario(sample_data: Path, model_dir: Path) -> Scenario:
    """baseline.json as evaluation writes it, and the same listings answered by the same model.

    `build_baseline` gets what `evaluate` gives it (every listing with all it has); calling it
    directly skips the per-mode metrics, which drift does not read (and which cost a minute).
    """
    from prodcat.data import load_listings
    from prodcat.evaluation import build_baseline
    from prodcat.features import encode_listing_photos
    from prodcat.image_encoder import default_encoder
    from prodcat.model import ProductTypeModel

    model = ProductTypeModel.load(model_dir)
    listings, report = load_listings(sample_data, model.taxonomy)
    feats = encode_listing_photos(listings, default_encoder(), report, progress=False)
    probs, modes = model.predict_proba([x.text for x in listings], feats)
    has_photo = np.array([f is not None for f in feats])
    baseline = build_baseline(model, listings, probs, modes, has_photo)
    with_photo: list[np.ndarray | None] = [f for f in feats if f is not None]
    photo_probs, _ = model.predict_proba([""] * len(with_photo), with_photo)
    with (sample_data / "X_train.csv").open(encoding="utf-8") as f:
        rows = {r[""]: r for r in csv.DictReader(f)}
    return Scenario(
        baseline=json.loads(json.dumps(baseline)),  # as read back from baseline.json
        model_version=model.version,
        listings=[
            Listing(rows[_index(x.row_id)]["designation"], rows[_index(x.row_id)]["description"], f)
            for x, f in zip(listings, feats, strict=True)
        ],
        answers=probs,
        modes=modes,
        photo_answers=photo_probs,
    )


def _record(
    index: int,
    at: datetime,
    listing: Listing | None,
    probs: np.ndarray,
    mode: str,
    model_version: str,
    codes: list[int],
    *,
    photo: bool,
) -> CaptureRecord:
    request_id = f"req-{index:05d}-{mode}"
    top = np.argsort(-probs)[:5]
    return CaptureRecord(
        request_id=request_id,
        requested_at=at,
        model_version=model_version,
        designation=listing.designation if listing else None,
        description=listing.description if listing else None,
        photo=(
            PhotoRef(key=f"capture/{request_id}.jpg", bytes=1000, sha256="ab" * 32)
            if photo
            else None
        ),
        mode=mode,
        predictions=[ScoredType(code=codes[i], probability=float(probs[i])) for i in top],
        latency_ms=80.0,
    )


def as_captured(scenario: Scenario, codes: list[int], start: datetime) -> list[CaptureRecord]:
    """Each listing as the API captures it: the text and photo sent, the model's answer."""
    return [
        _record(
            i,
            start + timedelta(minutes=i),
            x,
            scenario.answers[i],
            scenario.modes[i],
            scenario.model_version,
            codes,
            photo=x.features is not None,
        )
        for i, x in enumerate(scenario.listings)
    ]


def photos_only(scenario: Scenario, codes: list[int], start: datetime) -> list[CaptureRecord]:
    """Shifted traffic: sellers send only photos, answered by the real model on photos alone."""
    return [
        _record(
            i,
            start + timedelta(minutes=i),
            None,
            probs,
            "image_only",
            scenario.model_version,
            codes,
            photo=True,
        )
        for i, probs in enumerate(scenario.photo_answers)
    ]


@pytest.fixture
def codes(model_dir: Path) -> list[int]:
    from prodcat.model import ProductTypeModel

    return list(ProductTypeModel.load(model_dir).taxonomy.codes)


@pytest.fixture
def aws(aws_env: None) -> Iterator[drift_job.Clients]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield drift_job.Clients(s3=s3, cloudwatch=boto3.client("cloudwatch", region_name=REGION))


def put_captures(s3: Any, records: list[CaptureRecord]) -> None:
    for record in records:
        key = capture_key("capture/", record.request_id, record.requested_at)
        s3.put_object(Bucket=BUCKET, Key=key, Body=record.model_dump_json().encode())


def put_baseline(s3: Any, baseline: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=BUCKET, Key="models/production/baseline.json", Body=json.dumps(baseline).encode()
    )


def run_job(clients: drift_job.Clients, output: Path, *extra: str) -> dict[str, Any]:
    argv = ["--bucket", BUCKET, "--stage", "dev", "--until", UNTIL.isoformat()]
    assert drift_job.main([*argv, "--output", str(output), *extra], clients=clients) == 0
    document: dict[str, Any] = json.loads((output / "drift.json").read_text())
    return document


def published(cloudwatch: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(metric, dimensions) -> the value stored in (moto's) CloudWatch around UNTIL."""
    out = {}
    for metric in cloudwatch.list_metrics(Namespace="prodcat")["Metrics"]:
        stats = cloudwatch.get_metric_statistics(
            Namespace="prodcat",
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=UNTIL - timedelta(hours=1),
            EndTime=UNTIL + timedelta(hours=1),
            Period=3600,
            Statistics=["Maximum"],
        )
        (point,) = stats["Datapoints"]
        dims = frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"])
        out[(metric["MetricName"], dims)] = point["Maximum"]
    return out


def drift_score(values: dict[tuple[str, frozenset[tuple[str, str]]], float], feature: str) -> float:
    return values[("DriftScore", frozenset({("Stage", "dev"), ("Feature", feature)}))]


def test_traffic_statistics_of_the_evaluated_listings_equal_the_baseline(
    scenario: Scenario, codes: list[int]
) -> None:
    # No training/serving skew: the same listings, captured as the API captures them, have
    # exactly the statistics evaluation wrote (text length, language, photo, mode, answers).
    baseline = Statistics.model_validate(scenario.baseline)
    records = as_captured(scenario, codes, UNTIL - timedelta(hours=3))
    report = compare(baseline, records, min_samples=len(records))
    assert set(report.features) == set(FEATURES)
    for feature, drift in report.features.items():
        assert drift.psi == pytest.approx(0.0, abs=1e-9), feature


def test_job_reads_the_window_and_publishes_each_feature_and_overall(
    scenario: Scenario, codes: list[int], aws: drift_job.Clients, tmp_path: Path
) -> None:
    put_baseline(aws.s3, scenario.baseline)
    inside = as_captured(scenario, codes, UNTIL - timedelta(hours=20))
    put_captures(aws.s3, inside)
    # Outside the window (same partitions and an older one), a photo, a broken record.
    rest = as_captured(scenario, codes, UNTIL - timedelta(hours=30))[:10]
    late = as_captured(scenario, codes, UNTIL + timedelta(minutes=5))[:3]
    put_captures(aws.s3, [r.model_copy(update={"request_id": r.request_id + "x"}) for r in rest])
    put_captures(aws.s3, [r.model_copy(update={"request_id": r.request_id + "y"}) for r in late])
    day = UNTIL.strftime("%Y-%m-%d")
    aws.s3.put_object(Bucket=BUCKET, Key=f"capture/date={day}/req-1.jpg", Body=b"\xff\xd8\xff")
    aws.s3.put_object(Bucket=BUCKET, Key=f"capture/date={day}/broken.json", Body=b"{not json")

    document = run_job(aws, tmp_path, "--min-samples", "50")

    assert document["status"] == "ok" and document["n"] == len(inside)
    assert document["invalid_records"] == 1
    assert document["baseline_model_version"] == scenario.model_version
    values = published(aws.cloudwatch)
    for feature in (*FEATURES, "overall"):
        assert drift_score(values, feature) == pytest.approx(0.0, abs=1e-9)
    assert values[("DriftSampleSize", frozenset({("Stage", "dev")}))] == len(inside)
    assert len(values) == len(FEATURES) + 2


def test_job_publishes_a_score_over_the_threshold_for_photo_only_traffic(
    scenario: Scenario, codes: list[int], aws: drift_job.Clients, tmp_path: Path
) -> None:
    put_baseline(aws.s3, scenario.baseline)
    put_captures(aws.s3, photos_only(scenario, codes, UNTIL - timedelta(hours=10)))

    document = run_job(aws, tmp_path, "--min-samples", "50")

    assert document["status"] == "drift"
    values = published(aws.cloudwatch)
    assert drift_score(values, "overall") > 0.2
    assert drift_score(values, "overall") == pytest.approx(document["overall"])
    for feature in ("text_length", "language", "photo", "mode"):
        assert drift_score(values, feature) > 0.2, feature
    movers = document["features"]["mode"]["top_movers"]
    assert movers[0]["category"] == "image_only" and movers[0]["traffic_share"] == 1.0


def test_too_little_traffic_publishes_the_sample_size_and_no_score(
    scenario: Scenario, codes: list[int], aws: drift_job.Clients, tmp_path: Path
) -> None:
    put_baseline(aws.s3, scenario.baseline)
    put_captures(aws.s3, photos_only(scenario, codes, UNTIL - timedelta(hours=2))[:20])

    document = run_job(aws, tmp_path, "--min-samples", "50")

    assert document["status"] == "not_enough_data" and document["overall"] is None
    values = published(aws.cloudwatch)
    assert values == {("DriftSampleSize", frozenset({("Stage", "dev")})): 20.0}


def test_before_the_first_deploy_the_job_publishes_nothing_and_succeeds(
    aws: drift_job.Clients, tmp_path: Path
) -> None:
    document = run_job(aws, tmp_path)
    assert document["status"] == "no_baseline"
    assert aws.cloudwatch.list_metrics(Namespace="prodcat")["Metrics"] == []


def test_a_busy_day_is_sampled_down_to_max_records(
    scenario: Scenario, codes: list[int], aws: drift_job.Clients, tmp_path: Path
) -> None:
    put_baseline(aws.s3, scenario.baseline)
    put_captures(aws.s3, as_captured(scenario, codes, UNTIL - timedelta(hours=5)))
    document = run_job(aws, tmp_path, "--min-samples", "10", "--max-records", "40")
    assert document["keys_listed"] == len(scenario.listings) and document["n"] == 40


def test_cli_compares_a_baseline_file_with_a_directory_of_captures(
    scenario: Scenario, codes: list[int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prodcat_cli.cli import main as cli

    (tmp_path / "baseline.json").write_text(json.dumps(scenario.baseline))
    for record in photos_only(scenario, codes, UNTIL):
        path = tmp_path / capture_key("captures/", record.request_id, record.requested_at)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.model_dump_json())
    argv = ["drift", "--baseline", str(tmp_path / "baseline.json")]
    assert cli([*argv, "--captures", str(tmp_path / "captures"), "--min-samples", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "drift" and report["overall"] > 0.2
    assert report["n"] == len(scenario.photo_answers)
