"""boto3 clients, made once and lazily (never at import, so moto can start first), swappable, and
the request's deadline budget: every AWS call's timeouts and attempts, in this one place.

Tests and the local stack call `use(...)` to put their own clients in place; handlers call
`client("dynamodb")` and never build one themselves.

## The deadline budget

API Gateway gives up on the Lambda after 29 s and answers 504 itself; the caller must get the
API's own answer (a 503 + Retry-After when a dependency is slow or down) before that. Each call
has a connect timeout, a read timeout (per socket operation: a stalled server, not a trickling
one, is what it bounds) and a total number of attempts (botocore's `total_max_attempts`: 2 is
one retry; its older `max_attempts` counts retries only). Retries are botocore's "legacy" mode:
its backoff before retry i is at most `backoff_base * 2**(i-1)` s; "standard" mode would also
honour an `x-amz-retry-after` header for up to 5 s more per retry, which no budget here affords.

| service (calls) | connect | read | attempts | worst case |
|---|---|---|---|---|
| sagemaker-runtime (InvokeEndpoint) | 1 s | 8 s | 1 | 9 s |
| s3 (put, copy, delete) | 0.5 s | 1 s (+1 s waiting for 100-continue) | 2 | 6 s |
| dynamodb (put, get, query, update, delete) | 0.5 s | 1 s | 2 | 3.05 s |
| sqs (SendMessage: the undelivered-records queue) | 0.5 s | 0.5 s | 2 | 3 s |
| cognito-idp (sign-up, confirm, sign-in) | 0.5 s | 2.5 s | 2 | 7 s |

POST /predict for a text listing, every dependency slow and failing: endpoint 9 + capture 6 +
queue 3 + request log 3.05 + queue 3 = 24.05 s.

`worst_case_seconds()` computes the last column. With a photo, /predict makes a third write,
so on top of the per-call budget each request has a deadline, REQUEST_BUDGET_SECONDS after
`request_deadline()` starts (the Lambda handler runs each request in it): an attempt starts
only if it, the backoff that may follow it and (for a write with a queue fallback) the queue's
first attempt all fit before the deadline; otherwise the call fails at once with `OutOfTime`,
which callers treat as the service failing (the record is queued, the caller gets a 503). 25 s
leaves API Gateway's 29 s room for a cold start and the response.
tests/unit/test_deadline_budget.py checks the arithmetic route by route;
tests/api/test_deadlines.py measures it against servers that stall.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

API_GATEWAY_TIMEOUT_SECONDS = 29.0
REQUEST_BUDGET_SECONDS = 25.0
# The queue that takes a record whose write failed (lambdas/api/delivery.py).
FALLBACK_SERVICE = "sqs"


@dataclass(frozen=True)
class CallBudget:
    """One AWS call's limits: each attempt's timeouts and how many attempts."""

    connect_timeout: float
    read_timeout: float
    total_max_attempts: int
    backoff_base: float = 1.0  # legacy mode: retry i waits rand(0, 1) * base * 2**(i-1) s
    send_wait: float = 0.0  # extra wait before the body is sent (S3's Expect: 100-continue)

    def config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "legacy", "total_max_attempts": self.total_max_attempts},
        )

    def attempt_seconds(self) -> float:
        """The longest one attempt can take."""
        return self.connect_timeout + self.send_wait + self.read_timeout

    def backoff_seconds(self, retry: int) -> float:
        """The longest botocore sleeps before retry number `retry` (1-based)."""
        return self.backoff_base * 2 ** (retry - 1)

    def worst_case_seconds(self) -> float:
        retries = range(1, self.total_max_attempts)
        return self.total_max_attempts * self.attempt_seconds() + sum(
            self.backoff_seconds(r) for r in retries
        )


BUDGET: dict[str, CallBudget] = {
    # A warm endpoint answers in well under a second; a serverless cold start can outlast this,
    # and the caller gets a 503 + Retry-After and retries a container that kept starting. No
    # retry here: a second attempt would not fit.
    "sagemaker-runtime": CallBudget(connect_timeout=1, read_timeout=8, total_max_attempts=1),
    # A photo is at most 2.5 MiB: in-region S3 takes it in well under a second.
    "s3": CallBudget(connect_timeout=0.5, read_timeout=1, total_max_attempts=2, send_wait=1.0),
    # DynamoDB's own retry schedule starts at 50 ms (botocore's _retry.json).
    "dynamodb": CallBudget(
        connect_timeout=0.5, read_timeout=1, total_max_attempts=2, backoff_base=0.05
    ),
    FALLBACK_SERVICE: CallBudget(connect_timeout=0.5, read_timeout=0.5, total_max_attempts=2),
    "cognito-idp": CallBudget(connect_timeout=0.5, read_timeout=2.5, total_max_attempts=2),
}
# Writes whose failure sends the record to the queue: each of their attempts leaves it time.
_WITH_FALLBACK = frozenset({"s3", "dynamodb"})


class OutOfTime(BotoCoreError):
    """The request's deadline leaves no time for another attempt at this call."""

    fmt = "no time left in the request's budget for {service} (needs {needed:.2f} s)"


_deadline: ContextVar[float | None] = ContextVar("prodcat_request_deadline", default=None)


@contextmanager
def request_deadline(budget_seconds: float | None = None) -> Iterator[None]:
    """One request's clock: inside, a call the deadline leaves no time for fails at once
    instead of running late; outside (tools, tests), calls have their budget and no deadline."""
    budget = REQUEST_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    token = _deadline.set(time.monotonic() + budget)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def needed_seconds(service: str, attempt: int = 1) -> float:
    """What attempt number `attempt` at `service` must find left of the request's budget to
    start: the attempt, the backoff that follows it unless it is the last, and for a write what
    the queue's first attempt needs (so a failed write can always hand its record on)."""
    budget = BUDGET[service]
    needed = budget.attempt_seconds()
    if attempt < budget.total_max_attempts:
        needed += budget.backoff_seconds(attempt)
    if service in _WITH_FALLBACK:
        needed += needed_seconds(FALLBACK_SERVICE)
    return needed


def _check_deadline(service: str, request: Any, **_: Any) -> None:
    left = seconds_left()
    if left is None:
        return
    attempt = int((getattr(request, "context", None) or {}).get("retries", {}).get("attempt", 1))
    needed = needed_seconds(service, attempt)
    if needed > left:
        raise OutOfTime(service=service, needed=needed)


# Services no request calls (operators' tools: CloudWatch Logs, CloudFormation): boto3's
# usual patience.
_UNBUDGETED = Config(connect_timeout=3, retries={"mode": "standard", "total_max_attempts": 6})


def _make(service: str) -> Any:
    budget = BUDGET.get(service)
    made = boto3.client(service, config=budget.config() if budget else _UNBUDGETED)
    if budget is not None:
        made.meta.events.register("before-send", partial(_check_deadline, service))
    return made


def client(service: str) -> Any:
    """The client for `service`, with its line of BUDGET (timeouts, attempts, the deadline)."""
    if service in _overrides:
        return _overrides[service]
    if service not in _made:
        _made[service] = _make(service)
    return _made[service]


_made: dict[str, Any] = {}
_overrides: dict[str, Any] = {}


def use(**clients: Any) -> None:
    """Use these clients (by service name, e.g. `sagemaker_runtime=...`) instead of boto3's."""
    for name, made in clients.items():
        _overrides[name.replace("_", "-")] = made


def reset() -> None:
    _made.clear()
    _overrides.clear()
