"""The request policy (prodcat_contracts/request_policy.py) on its own, and the serving container's
/invocations over its ASGI app: any body a client can send is a 4xx with a small answer, and
the model is never asked about it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from prodcat_contracts.listing import MAX_BATCH
from prodcat_contracts.request_policy import (
    API_POLICY,
    MAX_DEPTH,
    MAX_FIELD_ERRORS,
    MAX_MEMBERS,
    BodyRefused,
    RequestPolicy,
    bounded_errors,
)

Invoke = Callable[[FastAPI, bytes], httpx.Response]  # the `invoke` fixture (conftest.py)

SMALL_ANSWER_BYTES = 8 * 1024


def refusal(text: str, policy: RequestPolicy = API_POLICY) -> BodyRefused:
    with pytest.raises(BodyRefused) as caught:
        policy.parse(text)
    return caught.value


@pytest.mark.parametrize(
    "text",
    [
        '{"designation": "Lampe", "top_k": 3}',
        json.dumps({"instances": [{"designation": "a", "description": "b", "top_k": 1}] * 32}),
        '  {"a": [1, 2.5e-3, -0.1, true, false, null, {"b": {}}, []]}  ',
        '"just a string"',
        "[]",
    ],
)
def test_what_valid_requests_look_like_passes(text: str) -> None:
    assert API_POLICY.parse(text) == json.loads(text)


def test_depth_counts_every_container_and_stops_at_the_limit() -> None:
    assert API_POLICY.parse("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert "deeper than" in refusal("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).message
    assert "deeper than" in refusal('{"a":' * 100_000).message  # unclosed: still the depth


def test_members_count_object_fields_and_array_items() -> None:
    assert API_POLICY.parse(json.dumps({f"k{i}": i for i in range(MAX_MEMBERS)}))
    assert "more than" in refusal(json.dumps({f"k{i}": i for i in range(MAX_MEMBERS + 1)})).message
    assert API_POLICY.parse(json.dumps(list(range(MAX_MEMBERS))))
    assert "more than" in refusal(json.dumps(list(range(MAX_MEMBERS + 1)))).message
    # A string value holding ':' and ',' is one value, not many.
    assert API_POLICY.parse(json.dumps({"d": ",:" * 10_000}))


@pytest.mark.parametrize(
    ("text", "status", "says"),
    [
        ('{"top_k": ' + "9" * 5000 + "}", 400, "a number in the body is 5000 characters"),
        ('{"top_k": 1.' + "0" * 5000 + "}", 400, "a number in the body is 5002 characters"),
        ('{"' + "k" * 65 + '": 1}', 400, "a field name is 65 characters"),
        ('{"a": "' + "x" * 3_500_001 + '"}', 413, "3500001 characters long"),
        (" " * 4_000_001, 413, "the body is 4000001 bytes"),
        ('{"a": 1,}', 400, "(line 1, column 9)"),
        ('{"a":\n "unterminated', 400, "Unterminated string starting at (line 2, column 2)"),
        ("", 400, "Expecting value (line 1, column 1)"),
        ('{"a": NaN}', 400, "NaN is not a JSON number"),
        ('{"a": 1} {"b": 2}', 400, "Extra data (line 1, column 10)"),
    ],
)
def test_what_the_policy_refuses_and_says(text: str, status: int, says: str) -> None:
    refused = refusal(text)
    assert refused.status == status and says in refused.message, refused.message


def test_the_scan_stops_early_on_a_hostile_body() -> None:
    hostile = json.dumps({f"f{i}": 0 for i in range(200_000)})
    started = time.perf_counter()
    refusal(hostile)
    assert time.perf_counter() - started < 0.5


def test_error_lists_are_capped_and_count_the_rest() -> None:
    errors = [{"field": f"f{i}", "message": "m" * 10_000} for i in range(200_000)]
    bounded = bounded_errors(errors)
    assert len(bounded["errors"]) == MAX_FIELD_ERRORS
    assert bounded["errors_omitted"] == 200_000 - MAX_FIELD_ERRORS
    assert len(json.dumps(bounded)) < SMALL_ANSWER_BYTES
    assert bounded_errors(errors[:2]) == {
        "errors": [{"field": f"f{i}", "message": "m" * 197 + "..."} for i in range(2)]
    }


# The container.


LISTING = {"designation": "Lampe de chevet"}
HOSTILE: dict[str, tuple[bytes, int, str]] = {
    "1000_deep": (b'{"designation": ' + b"[" * 1000 + b"]" * 1000 + b"}", 400, "deeper"),
    "100000_deep_unclosed": (b"[" * 100_000, 400, "deeper"),
    "5000_digit_number": (b'{"designation": "x", "top_k": ' + b"7" * 5000 + b"}", 400, "number"),
    "200000_fields": (json.dumps({f"f{i}": 0 for i in range(200_000)}).encode(), 400, "fields"),
    "200000_items": (json.dumps({"instances": [{}] * 200_000}).encode(), 400, "items"),
    "long_field_name": (json.dumps({"k" * 100_000: 1}).encode(), 400, "field name"),
    "huge_string": (json.dumps({"photo": "A" * 4_200_004}).encode(), 413, "characters long"),
    "over_the_body_limit": (b" " * (6 * 1024 * 1024 + 1), 413, "limit"),
    "broken_json": (b'{"designation": "x",}', 400, "(line 1, column 21)"),
    "not_utf8": (b'{"designation": "\xff"}', 400, "UTF-8"),
    "nan": (b'{"designation": "x", "top_k": NaN}', 400, "NaN"),
    "infinite_float": (b'{"designation": "x", "top_k": 1e999}', 400, "top_k"),
    "a_list": (b"[1, 2, 3]", 400, "dictionary"),
    "a_string": (b'"designation"', 400, "dictionary"),
    "a_number": (b"42", 400, "dictionary"),
    "null": (b"null", 400, "dictionary"),
    "empty": (b"", 400, "Expecting value"),
    "instances_not_a_list": (b'{"instances": {"designation": "x"}}', 400, "instances"),
    "too_big_a_batch": (
        json.dumps({"instances": [LISTING] * (MAX_BATCH + 1)}).encode(),
        400,
        "instances",
    ),
    "nested_listing": (b'{"designation": {"designation": "x"}}', 400, "designation"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_container_answers_any_body_with_a_small_4xx(
    container: FastAPI, invoke: Invoke, case: str
) -> None:
    body, status, says = HOSTILE[case]
    response = invoke(container, body)
    assert response.status_code == status, response.text[:1000]
    assert says in response.text
    assert len(response.content) < SMALL_ANSWER_BYTES
    assert container.state.predictor.calls == []


def test_container_caps_field_errors_and_counts_the_rest(
    container: FastAPI, invoke: Invoke
) -> None:
    body = json.dumps({"designation": "x", **{f"colour_{i}": "red" for i in range(200)}})
    answer = invoke(container, body.encode()).json()
    assert len(answer["details"]) == MAX_FIELD_ERRORS
    assert answer["details_omitted"] == 200 - MAX_FIELD_ERRORS
