"""Every dependency outage is a 503 with Retry-After, never a 500, nor a 5xx that blames the
listing: the request-log and products tables, the bucket, the queue and the user pool deleted
under the API (moto), and the model endpoint failing every way it can (the service's error
codes, and over the wire through the local SageMaker runtime: a dead container, one that
answers 5xx, one that refuses the listing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_harness import Api, client_error
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
from stand_ins import container, http_server

from lambdas.api import clients
from local_runtime.endpoints import LocalEndpoints, _Served
from local_runtime.serving import free_port, serve_app

RETRY_NOW = "5"  # errors.DEPENDENCY_RETRY_AFTER


def assert_retry(answer: tuple[int, dict[str, str], Any], retry_after: str = RETRY_NOW) -> None:
    status, headers, body = answer
    assert (status, headers.get("Retry-After")) == (503, retry_after), body
    assert body["message"]


def delete_table(name: str) -> None:
    boto3.client("dynamodb").delete_table(TableName=name)


def delete_bucket(name: str) -> None:
    s3 = boto3.resource("s3")
    s3.Bucket(name).objects.all().delete()
    s3.Bucket(name).delete()


def test_logs_while_the_request_log_table_is_unavailable(api: Api) -> None:
    delete_table(api.env["REQUEST_LOG_TABLE"])
    assert_retry(api.call("GET", "/logs"))


def test_feedback_while_the_request_log_table_is_unavailable(api: Api) -> None:
    status, _, made = api.call("POST", "/predict", {"designation": "Lampe"})
    assert status == 200
    delete_table(api.env["REQUEST_LOG_TABLE"])
    answer = api.call(
        "POST", "/feedback", {"prediction_id": made["prediction_id"], "prdtypecode": 2583}
    )
    assert_retry(answer)


def test_products_while_the_products_table_is_unavailable(api: Api) -> None:
    delete_table(api.env["PRODUCTS_TABLE"])
    assert_retry(api.admin("POST", "/products", {"designation": "Lampe", "prdtypecode": 2583}))
    assert_retry(api.admin("DELETE", "/products/p-1", resource="/products/{product_id}"))


def test_products_while_the_bucket_is_unavailable(api: Api) -> None:
    delete_bucket(api.env["DATA_LAKE_BUCKET"])
    assert_retry(api.admin("POST", "/products", {"designation": "Lampe", "prdtypecode": 2583}))
    assert_retry(api.admin("DELETE", "/products/p-1", resource="/products/{product_id}"))


def test_a_prediction_stands_while_the_bucket_and_the_queue_are_unavailable(api: Api) -> None:
    # The caller gets the prediction; the records are logged in full (lambdas/api/delivery.py).
    delete_bucket(api.env["DATA_LAKE_BUCKET"])
    boto3.client("sqs").delete_queue(QueueUrl=api.env["UNDELIVERED_QUEUE_URL"])
    status, _, body = api.call("POST", "/predict", {"designation": "Lampe"})
    assert status == 200, body
    delete_table(api.env["REQUEST_LOG_TABLE"])
    assert api.call("POST", "/predict", {"designation": "Lampe"})[0] == 200


def test_sign_in_while_the_user_pool_is_unavailable(api: Api) -> None:
    boto3.client("cognito-idp").delete_user_pool(UserPoolId=api.env["USER_POOL_ID"])
    credentials = {"email": "seller@example.com", "password": "Correct-Horse-9"}
    assert_retry(api.call("POST", "/login", credentials, user=None))
    assert_retry(api.call("POST", "/register", credentials, user=None))


def test_an_unreachable_aws_service_is_a_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens where DynamoDB should be: botocore's connection error, not a ClientError.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    clients.reset()
    clients.use(sagemaker_runtime=api.runtime)
    assert_retry(api.call("GET", "/logs"))


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        # The container crashed, was killed, or answered 5xx: SageMaker's ModelError.
        (client_error("ModelError", "server error (500)", 424, OriginalStatusCode=500), "30"),
        (client_error("ModelError", "server error (0)", 424, OriginalStatusCode=0), "30"),
        (client_error("ModelError", "server error (503)", 424, OriginalStatusCode=503), "30"),
        # The container took too long (SageMaker's own 60 s): no original status at all.
        (client_error("ModelError", "Your invocation timed out", 424), "30"),
        # A container's "not now" is not the listing's fault either.
        (client_error("ModelError", "busy", 424, OriginalStatusCode=429), "30"),
        (client_error("InternalFailure", "internal", 500), "30"),
        (client_error("ServiceUnavailable", "unavailable", 503), "15"),
        (client_error("AccessDeniedException", "not authorized", 400), "30"),
        (EndpointConnectionError(endpoint_url="https://runtime.sagemaker"), "15"),
        (ConnectionClosedError(endpoint_url="https://runtime.sagemaker"), "30"),
    ],
    ids=[
        "container-500",
        "container-died",
        "container-503",
        "container-timed-out",
        "container-429",
        "internal-failure",
        "service-unavailable",
        "access-denied",
        "no-connection",
        "connection-closed",
    ],
)
def test_an_endpoint_failure_is_a_503_to_retry(
    api: Api, error: Exception, retry_after: str
) -> None:
    api.runtime.error = error
    answer = api.call("POST", "/predict", {"designation": "Lampe"})
    assert_retry(answer, retry_after)
    assert "listing" not in answer[2]["message"]


def test_an_answer_in_the_wrong_shape_is_a_503(api: Api) -> None:
    api.runtime.answer = lambda listing: {"predictions": "none"}
    assert_retry(api.call("POST", "/predict", {"designation": "Lampe"}), "30")


@pytest.fixture
def local_runtime(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoints]:
    """The local SageMaker runtime (local_runtime/endpoints.py) in front of stand-in containers,
    called by the API's own boto3 client."""
    endpoints = LocalEndpoints(timeout_seconds=5)
    with serve_app(endpoints.app(), name="sagemaker") as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", url)
        clients.reset()
        yield endpoints


def serve_container(endpoints: LocalEndpoints, name: str, url: str) -> None:
    endpoints._served[name] = _Served(url=url, model_dir=Path("."), stack=ExitStack())


def test_a_dead_container_behind_the_endpoint_is_a_503(
    api: Api, local_runtime: LocalEndpoints
) -> None:
    # Registered, but nothing answers behind it: the runtime's ModelError "server error (0)".
    serve_container(local_runtime, api.env["ENDPOINT_NAME"], f"http://127.0.0.1:{free_port()}")
    answer = api.call("POST", "/predict", {"designation": "Lampe"})
    assert_retry(answer, "30")
    assert "listing" not in answer[2]["message"]


@pytest.mark.parametrize(
    ("status", "expected"), [(500, 503), (502, 503), (400, 400), (413, 413), (429, 503)]
)
def test_a_container_answer_over_the_wire(
    api: Api, local_runtime: LocalEndpoints, status: int, expected: int
) -> None:
    body = {"error": "photo rejected: corrupt", "details": [{"field": "photo"}]}
    with http_server(container(status, body)) as url:
        serve_container(local_runtime, api.env["ENDPOINT_NAME"], url)
        got, headers, answer = api.call("POST", "/predict", {"designation": "Lampe"})
    assert got == expected, answer
    if expected == 503:
        assert headers["Retry-After"] == "30"
    else:
        # The listing's fault: the container's own words, and no Retry-After.
        assert answer["message"] == "photo rejected: corrupt"
        assert "Retry-After" not in headers
    assert json.dumps(answer)
