"""No accepted record is lost: when S3 (or DynamoDB) and the undelivered queue both fail,
/predict still answers and prints each record in full as JSON log lines; `prodcat records replay`
writes them back from a log file or from CloudWatch Logs, once, and `prodcat records drain` from
the queue."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_harness import Api, s3_json

from lambdas.api.models import MAX_PHOTO_BYTES
from lambdas.api.replay import api_log_groups, drain, replay, undelivered_queue
from lambdas.api.undelivered import (
    LINE_LIMIT,
    MARKER,
    Envelope,
    assemble,
    envelope_in,
    log_lines,
    s3_object,
)
from local_runtime.handler_log import HandlerLog
from local_runtime.stack import REGION
from prodcat_cli.cli import main


def photo_of(size: int, seed: int = 0) -> bytes:
    """A JPEG by its signature (all the API checks before the model), incompressible."""
    return b"\xff\xd8\xff" + random.Random(seed).randbytes(size - 3)


def records_in(printed: str) -> list[tuple[str, dict[str, Any]]]:
    """(line, envelope) for every undelivered-record line the handler printed."""
    found = []
    for line in printed.splitlines():
        if MARKER in line:
            found.append((line, json.loads(line)[MARKER]))
    return found


def s3_down(api: Api) -> None:
    boto3.client("s3").delete_bucket(Bucket=api.env["DATA_LAKE_BUCKET"])


def queue_down(api: Api) -> None:
    boto3.client("sqs").delete_queue(QueueUrl=api.env["UNDELIVERED_QUEUE_URL"])


def s3_back(api: Api) -> None:
    boto3.client("s3").create_bucket(
        Bucket=api.env["DATA_LAKE_BUCKET"],
        CreateBucketConfiguration={"LocationConstraint": REGION},
    )


def cli_report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_a_double_fault_logs_the_records_in_full_and_replay_writes_them_once(
    api: Api, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    photo = photo_of(300_000)
    s3_down(api)
    queue_down(api)
    capsys.readouterr()
    status, _, body = api.call(
        "POST",
        "/predict",
        {"designation": "Lampe « été » \U0001f600", "photo": base64.b64encode(photo).decode()},
    )
    assert status == 200, body
    printed = capsys.readouterr().out
    found = records_in(printed)

    # One line per chunk, every one short enough for Lambda and CloudWatch to keep whole.
    assert all(len(line.encode()) <= LINE_LIMIT for line, _ in found)
    assert all(json.loads(line)["level"] == "ERROR" for line, _ in found)
    photos = [e for _, e in found if e["kind"] == "capture_photo"]
    (capture,) = [e for _, e in found if e["kind"] == "capture"]
    assert len(photos) > 1 and {e["chunks"] for e in photos} == {len(photos)}
    assert sorted(e["chunk"] for e in photos) == list(range(1, len(photos) + 1))
    assert len({e["id"] for e in photos}) == 1
    joined = base64.b64decode(
        "".join(e["payload"] for e in sorted(photos, key=lambda e: e["chunk"]))
    )
    assert joined == photo and photos[0]["sha256"] == hashlib.sha256(photo).hexdigest()
    # The capture record, complete: where it goes and its exact bytes.
    request_id = body["prediction_id"].rpartition("#")[2]
    record = json.loads(capture["payload"])
    assert capture["destination"]["bucket"] == api.env["DATA_LAKE_BUCKET"]
    assert capture["destination"]["key"].endswith(f"/{request_id}.json")
    assert record["designation"] == "Lampe « été » \U0001f600"
    assert record["photo"]["key"] == photos[0]["destination"]["key"]
    assert record["photo"]["sha256"] == hashlib.sha256(photo).hexdigest()

    # The local stack's log file, as the gateway writes it; then S3 is back and replay runs.
    log = tmp_path / "logs" / "api.log"
    HandlerLog(log).printed(printed)
    s3_back(api)
    code, report = cli_report(capsys, "records", "replay", "--log-file", str(log))
    assert code == 0, report
    assert (report["delivered"], report["already_present"], report["failed"]) == (2, 0, 0)
    bucket = api.env["DATA_LAKE_BUCKET"]
    s3 = boto3.client("s3")
    stored = s3.get_object(Bucket=bucket, Key=record["photo"]["key"])
    assert stored["Body"].read() == photo
    assert s3.get_object(Bucket=bucket, Key=capture["destination"]["key"])["Body"].read() == (
        capture["payload"].encode()
    )
    assert s3_json(bucket, capture["destination"]["key"])["request_id"] == request_id

    # Again: nothing is written, both are reported already there.
    etags = {
        k: s3.head_object(Bucket=bucket, Key=k)["ETag"]
        for k in (record["photo"]["key"], capture["destination"]["key"])
    }
    code, report = cli_report(capsys, "records", "replay", "--log-file", str(log))
    assert code == 0
    assert (report["delivered"], report["already_present"], report["failed"]) == (0, 2, 0)
    assert etags == {k: s3.head_object(Bucket=bucket, Key=k)["ETag"] for k in etags}


def test_replay_leaves_a_different_object_alone_and_reports_missing_chunks(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = api.env["DATA_LAKE_BUCKET"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="raw/feedback/x.json", Body=b'{"prdtypecode":10}')
    newer = s3_object(
        "feedback", bucket, "raw/feedback/x.json", b'{"prdtypecode":40}', "application/json"
    )
    photo = s3_object("capture_photo", bucket, "capture/p.jpg", photo_of(120_000), "image/jpeg")
    envelopes = [newer.envelopes()[0], *photo.envelopes()[1:]]  # the photo's first chunk is lost
    outcome = replay(envelopes)
    assert outcome.conflicting == [f"feedback s3://{bucket}/raw/feedback/x.json"]
    assert list(outcome.failed.values()) == [
        f"capture_photo: chunks [1] of {len(photo.envelopes())} not found"
    ]
    assert s3.get_object(Bucket=bucket, Key="raw/feedback/x.json")["Body"].read() == (
        b'{"prdtypecode":10}'
    )
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="capture/")


def test_replay_from_cloudwatch_logs_writes_the_records_of_every_store(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = photo_of(70_000, seed=1)
    s3_down(api)
    queue_down(api)
    table = api.env["REQUEST_LOG_TABLE"]
    dynamodb = boto3.client("dynamodb")
    schema = dynamodb.describe_table(TableName=table)["Table"]
    dynamodb.delete_table(TableName=table)
    capsys.readouterr()
    status, _, body = api.call(
        "POST", "/predict", {"designation": "Piscine", "photo": base64.b64encode(photo).decode()}
    )
    assert status == 200
    lines = [line for line, _ in records_in(capsys.readouterr().out)]
    assert {json.loads(line)[MARKER]["kind"] for line in lines} == {
        "capture_photo",
        "capture",
        "request_log",
    }

    # What Lambda does with the lines: events in the function's log group, among others.
    logs = boto3.client("logs")
    group = "prodcat-test-api-ApiPredictLogs-1234"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/12/03/[$LATEST]abc")
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": '{"level":"INFO","message":"request refused"}'}]
    events += [{"timestamp": now, "message": line} for line in lines]
    logs.put_log_events(
        logGroupName=group, logStreamName="2026/12/03/[$LATEST]abc", logEvents=events
    )
    s3_back(api)
    dynamodb.create_table(
        TableName=table,
        KeySchema=schema["KeySchema"],
        AttributeDefinitions=schema["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )

    argv = ("records", "replay", "--log-group", group, "--since", "1h")
    code, report = cli_report(capsys, *argv)
    assert code == 0, report
    assert (report["delivered"], report["already_present"], report["failed"]) == (3, 0, 0)
    status, _, page = api.call("GET", "/logs")
    assert status == 200
    (entry,) = page["items"]
    assert entry["prediction_id"] == body["prediction_id"]
    assert entry["input"]["designation"] == "Piscine"
    assert entry["input"]["photo_bytes"] == len(photo)
    key = photo_key("\n".join(lines))
    got = boto3.client("s3").get_object(Bucket=api.env["DATA_LAKE_BUCKET"], Key=key)
    assert got["Body"].read() == photo

    code, report = cli_report(capsys, *argv)
    assert (report["delivered"], report["already_present"], report["failed"]) == (0, 3, 0)
    # A window that ends before the lines were logged finds nothing.
    code, report = cli_report(
        capsys, *argv[:4], "--since", "2000-01-01T00:00", "--until", "2000-01-02T00:00"
    )
    assert report["delivered"] + report["already_present"] == 0


def test_a_photo_too_large_for_the_queue_goes_to_the_logs_and_drain_waits_for_its_replay(
    api: Api, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    photo = photo_of(400_000, seed=2)
    s3_down(api)
    capsys.readouterr()
    status, _, _ = api.call("POST", "/predict", {"photo": base64.b64encode(photo).decode()})
    assert status == 200
    printed = capsys.readouterr().out
    # Only the photo is logged: the capture record fitted in the queue.
    assert {e["kind"] for _, e in records_in(printed)} == {"capture_photo"}
    log = tmp_path / "api.log"
    log.write_text(printed)
    s3_back(api)
    queue = api.env["UNDELIVERED_QUEUE_URL"]

    # The capture record is written; the photo's pointer waits for the logs' replay (and is
    # left visible at once here, instead of after the usual two minutes).
    report = drain(queue, visibility_seconds=0).report()
    assert (report["delivered"], report["already_present"], report["failed"]) == (1, 0, 1)
    assert "records replay" in next(iter(report["details"]["failed"].values()))
    code, report = cli_report(capsys, "records", "replay", "--log-file", str(log))
    assert (code, report["delivered"]) == (0, 1)
    got = boto3.client("s3").get_object(Bucket=api.env["DATA_LAKE_BUCKET"], Key=photo_key(printed))
    assert got["Body"].read() == photo

    code, report = cli_report(capsys, "records", "drain", "--queue-url", queue)
    assert code == 0 and (report["already_present"], report["failed"]) == (1, 0)
    sqs = boto3.client("sqs")
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)


def photo_key(printed: str) -> str:
    (key,) = {
        e["destination"]["key"] for _, e in records_in(printed) if e["kind"] == "capture_photo"
    }
    return key


def test_envelopes_are_found_in_lines_that_wrap_or_prefix_them() -> None:
    record = s3_object("capture", "b", "capture/k.json", b'{"a":1}', "application/json")
    (envelope,) = record.envelopes()
    line = json.dumps({MARKER: envelope.model_dump(mode="json")})
    assert envelope_in(line) == envelope
    assert envelope_in("2026-12-03T10:00:00Z " + line) == envelope
    assert envelope_in(json.dumps({"level": "ERROR", "message": line})) == envelope
    assert envelope_in('{"level":"INFO","message":"no record here"}') is None
    assert isinstance(envelope, Envelope) and envelope.payload == '{"a":1}'


def test_the_largest_records_fit_in_log_lines_lambda_keeps_whole() -> None:
    emoji_text = json.dumps({"description": '\U0001f600"<é>' * 7_000}, ensure_ascii=False)
    for record in (
        s3_object("capture_photo", "b", "capture/k.jpg", photo_of(MAX_PHOTO_BYTES), "image/jpeg"),
        s3_object("capture", "b", "capture/k.json", emoji_text.encode(), "application/json"),
    ):
        lines = log_lines(record)
        assert max(len(line.encode()) for line in lines) <= LINE_LIMIT
        envelopes = [envelope_in(line) for line in lines]
        assert None not in envelopes and len(envelopes) == envelopes[0].chunks  # type: ignore[union-attr]
        assert assemble(e for e in envelopes if e).records == [record]


def test_a_stage_names_its_log_groups_and_queue_through_its_api_stack(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    # Generated names (infra: no hard-coded names): found among the stack's resources.
    template = {
        "Resources": {
            "ApiPredictLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
            "ApiUndeliveredRecords": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }
    boto3.client("cloudformation").create_stack(
        StackName="prodcat-test-api", TemplateBody=json.dumps(template)
    )
    record = s3_object(
        "capture", api.env["DATA_LAKE_BUCKET"], "capture/a.json", b"{}", "application/json"
    )
    (group,) = api_log_groups("test")
    logs = boto3.client("logs")
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": log_lines(record)[0]}],
    )
    code, report = cli_report(capsys, "records", "replay", "--stage", "test")
    assert (code, report["delivered"]) == (0, 1)
    queue = undelivered_queue("test")
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=record.queue_message())
    code, report = cli_report(capsys, "records", "drain", "--stage", "test")
    assert (code, report["already_present"]) == (0, 1)
