"""The API's deadline budget (lambdas/api/clients.py): computed from the clients' configs, it fits
inside API Gateway's 29 s, and botocore counts attempts the way the budget does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from lambdas.api import clients
from lambdas.api.clients import (
    API_GATEWAY_TIMEOUT_SECONDS,
    BUDGET,
    REQUEST_BUDGET_SECONDS,
    CallBudget,
    needed_seconds,
)
from local_runtime.serving import free_port

CDK_JSON = Path(__file__).parents[2] / "cdk.json"
# API Gateway's integration timeout includes the Lambda's cold start (Powertools, boto3 and
# pydantic imports: about 1-2 s on 512 MB) and sending the answer back.
COLD_START_AND_RESPONSE_SECONDS = 3.0


@pytest.fixture(autouse=True)
def fresh_clients(aws_env: None) -> Iterator[None]:
    clients.reset()
    yield
    clients.reset()


# Each route's AWS calls in order, as the handlers make them; "+queue" marks a write whose failure
# hands the record to the undelivered-records queue (lambdas/api/delivery.py).
ROUTE_CALLS: dict[str, list[str]] = {
    "POST /predict (text)": ["sagemaker-runtime", "s3+queue", "dynamodb+queue"],
    "POST /predict (photo)": ["sagemaker-runtime", "s3+queue", "s3+queue", "dynamodb+queue"],
    "GET /logs": ["dynamodb"],
    "POST /feedback": ["dynamodb", "s3", "s3+queue", "dynamodb+queue"],
    "POST /products": ["dynamodb", "s3", "s3", "s3", "dynamodb"],
    "DELETE /products/{id}": ["s3", "dynamodb", "s3"],
    "POST /register": ["cognito-idp", "cognito-idp"],
    "POST /confirm": ["cognito-idp"],
    "POST /login": ["cognito-idp"],
}


def worst_case(calls: list[str], deadline: float | None) -> tuple[float, list[str]]:
    """The request's duration when every attempt of every call runs to its timeouts and fails
    (and every write's record goes to the queue), with the deadline rule of clients.py or
    without one; and the attempts the deadline refused, as "service#attempt"."""
    t, cut = 0.0, []

    def run(service: str) -> None:
        nonlocal t
        budget = BUDGET[service]
        for attempt in range(1, budget.total_max_attempts + 1):
            if deadline is not None and deadline - t < needed_seconds(service, attempt):
                cut.append(f"{service}#{attempt}")
                return
            t += budget.attempt_seconds()
            if attempt < budget.total_max_attempts:
                t += budget.backoff_seconds(attempt)

    for call in calls:
        service, _, fallback = call.partition("+")
        run(service)
        if fallback:
            run("sqs")
    return t, cut


def test_per_call_worst_cases_are_the_documented_table() -> None:
    worst = {service: budget.worst_case_seconds() for service, budget in BUDGET.items()}
    # attempts * (connect + send wait + read) + the longest backoffs between them
    assert worst == {
        "sagemaker-runtime": 1 * (1 + 8),
        "s3": 2 * (0.5 + 1 + 1) + 1,
        "dynamodb": pytest.approx(2 * (0.5 + 1) + 0.05),
        "sqs": 2 * (0.5 + 0.5) + 1,
        "cognito-idp": 2 * (0.5 + 2.5) + 1,
    }
    assert CallBudget(1, 2, 3).worst_case_seconds() == 3 * 3 + 1 + 2
    for service, budget in BUDGET.items():
        assert worst_case([service], None)[0] == pytest.approx(budget.worst_case_seconds())


def test_the_request_budget_fits_api_gateway_with_margin() -> None:
    assert API_GATEWAY_TIMEOUT_SECONDS == 29  # REST API integration timeout (the default maximum)
    assert (
        REQUEST_BUDGET_SECONDS + COLD_START_AND_RESPONSE_SECONDS <= API_GATEWAY_TIMEOUT_SECONDS - 1
    )
    # Every call can run in full at the start of a request (the deadline never refuses a
    # request's first call), including the endpoint.
    for service in BUDGET:
        assert needed_seconds(service) <= REQUEST_BUDGET_SECONDS, service


@pytest.mark.parametrize("route", sorted(ROUTE_CALLS))
def test_every_route_ends_within_the_budget(route: str) -> None:
    took, cut = worst_case(ROUTE_CALLS[route], REQUEST_BUDGET_SECONDS)
    assert took <= REQUEST_BUDGET_SECONDS
    # A write that was tried always leaves the queue its first attempt. Only a third write
    # (a photo's prediction, everything slow) can be refused outright, queue and all: its
    # record is then logged in full for `prodcat records replay` (delivery.py).
    expected_cuts = {"POST /predict (photo)": {"dynamodb#1", "sqs#1"}}.get(route, set())
    assert {c for c in cut if c.endswith("#1")} == expected_cuts


def test_the_slowest_text_prediction_runs_in_full_within_the_budget() -> None:
    # The endpoint, the capture and the request log, all slow and failing, each handing its
    # record to a slow queue: 9 + (6 + 3) + (3.05 + 3) s, nothing cut by the deadline.
    calls = ROUTE_CALLS["POST /predict (text)"]
    took, cut = worst_case(calls, None)
    assert took == pytest.approx(24.05)
    assert worst_case(calls, REQUEST_BUDGET_SECONDS) == (pytest.approx(24.05), [])
    # With a photo there is a third write: the deadline is what keeps that path inside 25 s
    # (the request log's write is refused and its record goes straight to the queue).
    photo = ROUTE_CALLS["POST /predict (photo)"]
    assert worst_case(photo, None)[0] > REQUEST_BUDGET_SECONDS
    took, cut = worst_case(photo, REQUEST_BUDGET_SECONDS)
    assert took <= REQUEST_BUDGET_SECONDS and cut


def test_a_write_always_leaves_the_queue_its_time() -> None:
    queue = BUDGET["sqs"].attempt_seconds() + BUDGET["sqs"].backoff_seconds(1)
    assert needed_seconds("sqs") == queue
    assert needed_seconds("sqs", attempt=2) == BUDGET["sqs"].attempt_seconds()  # the last
    for service in ("s3", "dynamodb"):
        budget = BUDGET[service]
        first = budget.attempt_seconds() + budget.backoff_seconds(1)
        assert needed_seconds(service) == pytest.approx(first + queue)
        assert needed_seconds(service, attempt=2) == pytest.approx(budget.attempt_seconds() + queue)


def test_lambda_timeout_outlasts_the_request_budget_in_every_stage() -> None:
    # The Lambda must not be killed before its own 503 is sent; API Gateway caps it at 29 s.
    stages = json.loads(CDK_JSON.read_text())["context"]["prodcat:stages"]
    for name, stage in stages.items():
        timeout = stage["api"]["lambda_timeout_seconds"]
        assert REQUEST_BUDGET_SECONDS < timeout <= API_GATEWAY_TIMEOUT_SECONDS, name


@pytest.mark.parametrize("service", sorted(BUDGET))
def test_clients_are_made_with_the_budget(service: str) -> None:
    made = clients.client(service)
    config = made.meta.config
    budget = BUDGET[service]
    assert config.connect_timeout == budget.connect_timeout
    assert config.read_timeout == budget.read_timeout
    assert config.retries == {"mode": "legacy", "total_max_attempts": budget.total_max_attempts}


def test_total_max_attempts_counts_the_first_attempt() -> None:
    # Nothing listens on this port: every attempt is refused at once, and retried.
    sent: list[str] = []
    dynamo = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=BUDGET["dynamodb"].config(),
    )
    dynamo.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(BotoCoreError):
        dynamo.list_tables()
    assert len(sent) == BUDGET["dynamodb"].total_max_attempts == 2
    # The legacy `max_attempts` counts retries: the same 2 would have been 3 attempts.
    legacy = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=BUDGET["dynamodb"]
        .config()
        .merge(Config(retries={"mode": "legacy", "max_attempts": 2})),
    )
    sent.clear()
    legacy.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(BotoCoreError):
        legacy.list_tables()
    assert len(sent) == 3


def test_a_call_the_deadline_leaves_no_time_for_fails_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    dynamo = clients.client("dynamodb")
    with clients.request_deadline(needed_seconds("dynamodb") - 0.01):
        started = time.monotonic()
        with pytest.raises(clients.OutOfTime, match="dynamodb"):
            dynamo.list_tables()
        assert time.monotonic() - started < 0.5
    # Time enough: the call is made (and here refused by the closed port).
    with clients.request_deadline(needed_seconds("dynamodb") + 1):
        with pytest.raises(BotoCoreError) as refused:
            dynamo.list_tables()
        assert not isinstance(refused.value, clients.OutOfTime)
    # Outside a request there is no deadline at all.
    assert clients.seconds_left() is None
