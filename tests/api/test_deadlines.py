"""The deadline budget (lambdas/api/clients.py) measured: the real handler and boto3 clients
against servers on 127.0.0.1 that stall like a slow endpoint or a slow S3. Each request ends
within its computed worst case, well inside API Gateway's 29 s, with a 503 + Retry-After where
the caller must retry, and with every record kept where the prediction stands."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from api_harness import Api
from botocore import retryhandler
from PIL import Image
from stand_ins import slow_server

from lambdas.api import clients
from lambdas.api.clients import BUDGET

# What the machine may add to a computed worst case (threads, moto, the handler itself).
SLACK_SECONDS = 1.0


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with slow_server() as url:
        yield url


def use_endpoint(api: Api, monkeypatch: pytest.MonkeyPatch, service: str, url: str) -> None:
    """Point the API's own client for `service` (made by clients.py, with its budget) at `url`;
    the others stay on moto, and the model on the test's double unless it is `service`."""
    variable = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    monkeypatch.setenv(variable, url)
    clients.reset()  # clients are made again, lazily, from the environment
    if service != "sagemaker-runtime":
        clients.use(sagemaker_runtime=api.runtime)


def queued_kinds(api: Api) -> list[str]:
    """The kinds of the records in the undelivered-records queue (lambdas/api/undelivered.py)."""
    messages = (
        boto3.client("sqs")
        .receive_message(QueueUrl=api.env["UNDELIVERED_QUEUE_URL"], MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    bodies = [json.loads(m["Body"]) for m in messages]
    return sorted(str(b.get("undelivered_record", b)["kind"]) for b in bodies)


def timed(api: Api, *args: Any, **kwargs: Any) -> tuple[float, int, dict[str, str], Any]:
    started = time.monotonic()
    status, headers, body = api.call(*args, **kwargs)
    return time.monotonic() - started, status, headers, body


def jpeg() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 20, 20)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def test_a_stalled_endpoint_is_a_503_before_api_gateway_gives_up(
    api: Api, slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_endpoint(api, monkeypatch, "sagemaker-runtime", slow)
    took, status, headers, body = timed(api, "POST", "/predict", {"designation": "Lampe"})
    assert (status, headers.get("Retry-After")) == (503, "15"), body
    endpoint = BUDGET["sagemaker-runtime"]
    # One attempt, cut by the read timeout: 8 s, not two 20 s attempts (40 s) as before.
    assert endpoint.read_timeout <= took <= endpoint.worst_case_seconds() + SLACK_SECONDS
    print(f"stalled endpoint: 503 after {took:.2f} s")


def test_a_stalled_bucket_is_a_503_for_a_new_product_and_its_claim_is_released(
    api: Api, slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_endpoint(api, monkeypatch, "s3", slow)
    took, status, headers, body = timed(
        api,
        "POST",
        "/products",
        {"designation": "Lampe", "prdtypecode": 2583},
        user="admin-1",
        groups="[admins]",
    )
    assert (status, headers.get("Retry-After")) == (503, "5"), body
    # The claim (DynamoDB), the record's S3 write in full (2 attempts), the release.
    s3 = BUDGET["s3"]
    assert took >= 2 * s3.read_timeout
    assert took <= s3.worst_case_seconds() + 2 * BUDGET["dynamodb"].worst_case_seconds()
    assert boto3.client("dynamodb").scan(TableName=api.env["PRODUCTS_TABLE"])["Items"] == []
    print(f"stalled bucket, POST /products: 503 after {took:.2f} s")


def test_a_stalled_bucket_still_answers_the_prediction_and_queues_the_capture(
    api: Api, slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_endpoint(api, monkeypatch, "s3", slow)
    took, status, _, body = timed(api, "POST", "/predict", {"designation": "Lampe"})
    assert status == 200, body
    s3 = BUDGET["s3"]
    assert 2 * s3.read_timeout <= took <= s3.worst_case_seconds() + SLACK_SECONDS
    assert queued_kinds(api) == ["capture"]
    # The request log (DynamoDB) was written: the seller sees the prediction in GET /logs.
    status, _, logs = api.call("GET", "/logs")
    assert status == 200 and [i["prediction_id"] for i in logs["items"]] == [body["prediction_id"]]
    print(f"stalled bucket, POST /predict: 200 after {took:.2f} s")


def test_the_request_deadline_cuts_retries_and_queues_what_it_could_not_write(
    api: Api, slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Botocore's backoff at its longest (1 s before S3's retry), and a 6 s budget: the photo's
    # S3 write gets at most one attempt (2 s: 1 s waiting for 100-continue, 1 s read), then
    # there is no time for its retry (4.5 s with the queue's share) or the capture's write
    # (5.5 s): both go to the queue, in time. The request log (DynamoDB, not stalled) needs
    # 3.55 s: written or queued depending on how long the model and that first attempt took
    # (a loaded machine skips the attempt and has time for it), never lost.
    monkeypatch.setattr(retryhandler, "random", SimpleNamespace(random=lambda: 1.0))
    monkeypatch.setattr(clients, "REQUEST_BUDGET_SECONDS", 6.0)
    use_endpoint(api, monkeypatch, "s3", slow)
    took, status, _, body = timed(
        api, "POST", "/predict", {"designation": "Lampe", "photo": jpeg()}
    )
    assert status == 200, body
    assert took <= 6.0
    kinds = queued_kinds(api)
    assert [k for k in kinds if k != "request_log"] == ["capture", "capture_photo"]
    status, _, logs = api.call("GET", "/logs")
    logged = [i["prediction_id"] for i in logs["items"]] == [body["prediction_id"]]
    assert status == 200 and (logged or "request_log" in kinds), (kinds, logs)
    print(f"6 s budget, stalled bucket, POST /predict with a photo: 200 after {took:.2f} s")
