"""POST /predict through the real handler: routing to the endpoint, the records it leaves, the
metrics it emits, and what each endpoint failure becomes for the caller."""

from __future__ import annotations

import base64
import io
import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from api_harness import Api, client_error, s3_json, s3_keys
from aws_lambda_powertools.warnings import PowertoolsUserWarning
from botocore.exceptions import ReadTimeoutError
from PIL import Image

from lambdas.api import predict as predict_module
from lambdas.api.models import MAX_PHOTO_BYTES
from lambdas.api.settings import settings
from prodcat import photos as model_photos
from prodcat_contracts.listing import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, NO_TEXT_LEFT

NO_TEXT: list[dict[str, str]] = json.loads(
    (Path(__file__).parents[1] / "events" / "listings_without_text.json").read_text()
)
# A SageMaker serverless endpoint takes at most 4 MB per invocation request ("Maximum payload
# size", https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-limits);
# 4 MB, not 4 MiB, to be safe.
SERVERLESS_PAYLOAD_BYTES = 4_000_000
# Lambda's synchronous invocation payload (request and response): 6 MB.
LAMBDA_PAYLOAD_BYTES = 6_000_000


def jpeg(size: tuple[int, int] = (32, 32)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def emf_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_predict_routes_to_the_endpoint_and_returns_top_k(api: Api) -> None:
    status, _, body = api.call("POST", "/predict", {"designation": "Piscine Intex", "top_k": 3})
    assert status == 200
    assert [p["code"] for p in body["predictions"]] == [2583, 1302, 1560]
    assert body["model_version"] == "20261121T100000Z-test0001"
    # The request log's sort key: the UTC time, then the API Gateway request id.
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#[0-9a-f-]{36}", body["prediction_id"]
    )
    (call,) = api.runtime.calls
    assert call["EndpointName"] == api.env["ENDPOINT_NAME"]
    assert call["ContentType"] == "application/json"
    assert json.loads(call["Body"]) == {"designation": "Piscine Intex", "top_k": 3}


def test_predict_records_the_request_log_and_a_capture_with_the_photo(api: Api) -> None:
    photo = jpeg()
    status, _, body = api.call("POST", "/predict", {"designation": "Lampe", "photo": photo})
    assert status == 200
    bucket = api.env["DATA_LAKE_BUCKET"]
    keys = s3_keys(bucket, "capture/")
    assert len(keys) == 2 and keys[0].endswith(".jpg") and keys[1].endswith(".json")
    capture = s3_json(bucket, keys[1])
    assert capture["designation"] == "Lampe"
    assert capture["mode"] == "text_image"
    assert capture["photo"]["key"] == keys[0]
    assert capture["photo"]["bytes"] == len(base64.b64decode(photo))
    assert capture["predictions"][0] == {"code": 2583, "probability": 0.7}
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert stored == base64.b64decode(photo)

    items = boto3.client("dynamodb").query(
        TableName=api.env["REQUEST_LOG_TABLE"],
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": "seller-1"}},
    )["Items"]
    (item,) = items
    assert item["requested_at"]["S"] == body["prediction_id"]
    assert item["model_version"]["S"] == "20261121T100000Z-test0001"
    assert int(item["expires_at"]["N"]) > 0
    assert item["photo_bytes"]["N"] == str(len(base64.b64decode(photo)))


def test_predict_emits_latency_confidence_and_class_metrics(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(predict_module, "time", SimpleNamespace(perf_counter=lambda: clock[0]))

    def answer(listing: dict[str, Any]) -> dict[str, Any]:
        clock[0] += 0.2374  # the endpoint takes 237.4 ms
        return {
            "predictions": [{"code": 10, "name": "b", "name_fr": "b", "probability": 0.31}],
            "model_version": "v",
            "modalities": ["text"],
        }

    api.runtime.answer = answer
    status, _, body = api.call("POST", "/predict", {"designation": "un livre"})
    assert status == 200
    lines = emf_lines(capsys.readouterr().out)
    values = {k: v for line in lines for k, v in line.items() if not k.startswith("_")}
    assert values["Top1Confidence"] == [0.31]
    assert values["LowConfidence"] == [1.0]
    assert values["ProductType"] == "10" and values["PredictedClass"] == [1.0]
    assert values["Stage"] == "test"
    # The endpoint's round trip in milliseconds: in the metric, the answer and the capture.
    assert values["PredictLatency"] == [237.4]
    assert body["latency_ms"] == 237.4
    (key,) = s3_keys(api.env["DATA_LAKE_BUCKET"], "capture/")
    assert s3_json(api.env["DATA_LAKE_BUCKET"], key)["latency_ms"] == 237.4
    units = {
        m["Name"]: m["Unit"]
        for line in lines
        for d in line["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
    }
    assert units["PredictLatency"] == "Milliseconds"


def test_a_new_stage_replaces_the_stage_dimension_without_a_warning(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One process, two stages (as tests run): Powertools warned "Dimension 'Stage' has
    already been added" on every call after the first; the dimension must follow the stage."""
    api.runtime.answer = lambda listing: {
        "predictions": [{"code": 10, "name": "b", "name_fr": "b", "probability": 0.9}],
        "model_version": "v",
        "modalities": ["text"],
    }
    stages = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", PowertoolsUserWarning)
        for stage in ("test", "other", "other"):
            monkeypatch.setenv("STAGE", stage)
            settings.cache_clear()
            assert api.call("POST", "/predict", {"designation": "un livre"})[0] == 200
            lines = emf_lines(capsys.readouterr().out)
            stages.append({line["Stage"] for line in lines if "Top1Confidence" in line})
    assert stages == [{"test"}, {"other"}, {"other"}]


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (
            client_error("ValidationError", "Endpoint prodcat-test of account 1 not found."),
            503,
            "300",
        ),
        (client_error("ModelNotReadyException", "cold", 429), 503, "15"),
        (client_error("ThrottlingException", "slow down", 429), 429, "1"),
        (ReadTimeoutError(endpoint_url="https://runtime.sagemaker"), 503, "15"),
    ],
)
def test_endpoint_unavailable_is_a_retryable_answer(
    api: Api, error: Exception, status: int, retry_after: str
) -> None:
    api.runtime.error = error
    got, headers, body = api.call("POST", "/predict", {"designation": "x"})
    assert (got, headers.get("Retry-After")) == (status, retry_after)
    assert body["message"]
    assert s3_keys(api.env["DATA_LAKE_BUCKET"], "capture/") == []  # nothing recorded


def test_model_refusing_the_listing_is_the_callers_error(api: Api) -> None:
    api.runtime.error = client_error(
        "ModelError",
        "Received client error (400)",
        424,
        OriginalStatusCode=400,
        OriginalMessage=json.dumps(
            {"error": "photo rejected: corrupt", "details": {"reason": "corrupt"}}
        ),
    )
    status, _, body = api.call("POST", "/predict", {"photo": jpeg()})
    assert status == 400
    assert body["message"] == "photo rejected: corrupt"


def test_model_crash_is_a_503_to_retry_not_the_listings_fault(api: Api) -> None:
    # More container failures: tests/api/test_dependency_outages.py.
    api.runtime.error = client_error(
        "ModelError",
        "Received server error (500)",
        424,
        OriginalStatusCode=500,
        OriginalMessage="boom",
    )
    status, headers, _ = api.call("POST", "/predict", {"designation": "x"})
    assert (status, headers.get("Retry-After")) == (503, "30")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"designation": "   "}, "body"),
        ({"designation": "x", "top_k": 0}, "top_k"),
        ({"designation": "x", "top_k": 28}, "top_k"),
        ({"designation": "x" * 1001}, "designation"),
        ({"designation": "x", "colour": "red"}, "colour"),
        ({"photo": "not base64!"}, "photo"),
        ({"designation": 5}, "designation"),
    ],
)
def test_invalid_listing_is_400_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    status, _, answer = api.call("POST", "/predict", body)
    assert status == 400
    assert field in {e["field"] for e in answer["errors"]}
    assert api.runtime.calls == []


@pytest.mark.parametrize("body", NO_TEXT, ids=json.dumps)
def test_text_that_cleans_to_nothing_is_400_before_the_model(
    api: Api, body: dict[str, str]
) -> None:
    # The model reads these as no text at all: it would fail (a 502), so the API refuses them.
    status, _, answer = api.call("POST", "/predict", body)
    assert status == 400, answer
    assert answer["errors"] == [{"field": "body", "message": NO_TEXT_LEFT}]
    assert api.runtime.calls == []
    # With a photo it is a photo-only listing.
    status, _, answer = api.call("POST", "/predict", {**body, "photo": jpeg()})
    assert status == 200 and len(api.runtime.calls) == 1


def test_body_that_is_not_json_is_400(api: Api) -> None:
    status, _, answer = api.call("POST", "/predict", "{not json")
    assert status == 400 and answer["message"]


def test_oversize_photo_is_413_and_a_non_image_is_400(api: Api) -> None:
    big = base64.b64encode(b"\xff\xd8\xff" + b"0" * MAX_PHOTO_BYTES).decode()
    status, _, body = api.call("POST", "/predict", {"photo": big})
    assert status == 413 and str(MAX_PHOTO_BYTES) in body["message"]
    status, _, body = api.call(
        "POST", "/predict", {"photo": base64.b64encode(b"%PDF-1.7").decode()}
    )
    assert status == 400 and "JPEG" in body["message"]
    assert api.runtime.calls == []


def test_the_largest_accepted_request_fits_the_serverless_endpoint(api: Api) -> None:
    # The photo limit leaves room for the longest title and description, in the characters that
    # JSON makes longest (an emoji is 12 bytes escaped), in what the API sends the endpoint.
    photo = b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES - 3)  # a JPEG by its signature
    body = {
        "designation": "\U0001f600" * MAX_TITLE_CHARS,
        "description": "\U0001f600" * MAX_DESCRIPTION_CHARS,
        "photo": base64.b64encode(photo).decode(),
        "top_k": 27,
    }
    assert len(json.dumps(body)) <= LAMBDA_PAYLOAD_BYTES  # what the caller sends the Lambda
    status, _, answer = api.call("POST", "/predict", body)
    assert status == 200, answer
    (call,) = api.runtime.calls
    assert len(call["Body"]) <= SERVERLESS_PAYLOAD_BYTES
    # One byte more is the API's own 413, never the endpoint's error.
    over = {**body, "photo": base64.b64encode(photo + b"\0").decode()}
    assert api.call("POST", "/predict", over)[0] == 413
    assert len(api.runtime.calls) == 1
    # And every photo the API accepts, the model accepts too.
    assert MAX_PHOTO_BYTES <= model_photos.MAX_PHOTO_BYTES


def test_a_failed_log_write_goes_to_the_queue_and_the_caller_still_gets_the_prediction(
    api: Api,
) -> None:
    boto3.client("dynamodb").delete_table(TableName=api.env["REQUEST_LOG_TABLE"])
    status, _, body = api.call("POST", "/predict", {"designation": "Lampe"})
    assert status == 200
    messages = boto3.client("sqs").receive_message(
        QueueUrl=api.env["UNDELIVERED_QUEUE_URL"], MaxNumberOfMessages=10
    )["Messages"]
    (queued,) = [json.loads(m["Body"])["undelivered_record"] for m in messages]
    assert queued["kind"] == "request_log" and queued["write"] == "dynamodb_put"
    item = json.loads(queued["payload"])
    assert queued["destination"]["key"]["requested_at"] == item["requested_at"]
    assert item["requested_at"] == body["prediction_id"]
    assert item["designation"] == "Lampe"
