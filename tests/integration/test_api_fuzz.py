"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis + hypothesis),
over loopback HTTP through the local stack: whatever the body, query or path, no 5xx, and every
answer is one the document lists for that operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from lambdas.api.app import app
from lambdas.api.openapi import document
from lambdas.local.gateway import TokenBucket
from lambdas.local.stack import LocalStack

schema = schemathesis.openapi.from_dict(document(app))
PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture(scope="module")
def fuzz_target(model_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with LocalStack(model_dir, throttle=TokenBucket(rate=10_000, burst=10_000)) as stack:
        r = stack.resources
        assert r is not None
        key = {"x-api-key": r.api_key}
        email = "fuzz-admin@example.com"
        httpx.post(
            f"{r.api_url}/register", json={"email": email, "password": PASSWORD}, headers=key
        )
        httpx.post(f"{r.api_url}/confirm", json={"email": email, "code": "0"}, headers=key)
        stack.make_admin(email)
        token = httpx.post(
            f"{r.api_url}/login", json={"email": email, "password": PASSWORD}, headers=key
        ).json()["id_token"]
        # An admin's token reaches the most code: every route's own checks, not just a 403.
        yield r.api_url, {**key, "Authorization": token}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_the_api_fail(
    case: schemathesis.Case, fuzz_target: tuple[str, dict[str, str]]
) -> None:
    url, headers = fuzz_target
    case.headers = {**(case.headers or {}), **headers}
    response = case.call(base_url=url, timeout=60)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if case.method.upper() != case.operation.method.upper():
        # schemathesis also tries methods the path does not have: refused, never served.
        assert response.status_code in {403, 404, 405}, (case.method, case.path)
        return
    documented = case.operation.definition.raw["responses"]
    assert str(response.status_code) in documented, (
        case.method,
        case.path,
        response.status_code,
        response.text[:300],
    )
