"""The request policy (prodcat_contracts/request_policy.py) through the real handler, on every route that
takes a body: hostile bodies get a small 400/413 that says what to fix, never a 500, and never an
error answer larger than the request. Each case was a 500 or a multi-megabyte 400 before."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from api_harness import Api

from prodcat_contracts.request_policy import (
    API_MAX_BODY_BYTES,
    API_MAX_STRING_CHARS,
    MAX_DEPTH,
    MAX_FIELD_ERRORS,
    MAX_MEMBERS,
    MAX_MESSAGE_CHARS,
    MAX_NUMBER_CHARS,
)

# Lambda's synchronous response limit is 6 MB; an error answer has no reason to be near it.
SMALL_ANSWER_BYTES = 8 * 1024

# (route, a valid body for it, who calls it): /register is public, /products is for admins.
ROUTES: list[tuple[str, dict[str, Any], str | None]] = [
    ("/predict", {"designation": "Lampe de chevet"}, "seller"),
    ("/products", {"designation": "Lampe de chevet", "prdtypecode": 2060}, "admin"),
    ("/feedback", {"prediction_id": "p-1", "prdtypecode": 2060}, "seller"),
    ("/register", {"email": "a@example.com", "password": "Secret-123"}, None),
]


def post(api: Api, path: str, body: str, who: str | None) -> tuple[int, Any, int]:
    """Status, parsed answer and the answer's size in bytes."""
    if who == "admin":
        status, _, answer = api.admin("POST", path, body)
    else:
        status, _, answer = api.call("POST", path, body, user="seller-1" if who else None)
    return status, answer, len(json.dumps(answer).encode())


def deep(valid: dict[str, Any]) -> str:
    first = next(iter(valid))
    return json.dumps({**valid, first: None}).replace("null", "[" * 1000 + "]" * 1000)


def long_number(valid: dict[str, Any]) -> str:
    return json.dumps({**valid, "top_k": 0}).replace('"top_k": 0', '"top_k": ' + "7" * 5000)


def many_fields(valid: dict[str, Any]) -> str:
    return json.dumps({**valid, **{f"f{i}": 0 for i in range(200_000)}})


def huge_string(valid: dict[str, Any]) -> str:
    first = next(iter(valid))
    return json.dumps({**valid, first: "x" * (API_MAX_STRING_CHARS + 1)})


CASES: dict[str, tuple[Callable[[dict[str, Any]], str], int, str]] = {
    "1000_deep": (deep, 400, f"deeper than {MAX_DEPTH} levels"),
    "5000_digit_number": (long_number, 400, f"the limit is {MAX_NUMBER_CHARS}"),
    "200000_fields": (many_fields, 400, f"more than {MAX_MEMBERS} fields"),
    "huge_string": (huge_string, 413, f"the limit is {API_MAX_STRING_CHARS}"),
    "broken_json": (lambda valid: json.dumps(valid)[:-1] + ",}", 400, "(line 1, column"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("path", "valid", "who"), ROUTES, ids=[r[0] for r in ROUTES])
def test_a_hostile_body_gets_a_small_4xx_that_says_what_to_fix(
    api: Api, path: str, valid: dict[str, Any], who: str | None, case: str
) -> None:
    build, expected, says = CASES[case]
    status, answer, size = post(api, path, build(valid), who)
    assert status == expected, answer
    assert says in answer["message"]
    assert size < SMALL_ANSWER_BYTES
    assert api.runtime.calls == []  # refused before anything is done with it


def test_broken_json_names_the_line_and_column_not_a_character_offset(api: Api) -> None:
    status, answer, _ = post(api, "/predict", '{\n  "designation": "Lampe"\n  "top_k": 3\n}', "x")
    assert status == 400
    assert answer == {
        "message": "the body is not valid JSON: Expecting ',' delimiter (line 3, column 3)"
    }


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(api: Api, literal: str) -> None:
    status, answer, _ = post(api, "/predict", f'{{"designation": "x", "top_k": {literal}}}', "x")
    assert status == 400 and f"{literal} is not a JSON number" in answer["message"]


def test_a_body_over_the_size_limit_is_413_before_it_is_parsed(api: Api) -> None:
    body = json.dumps({"designation": "Lampe", "photo": "A" * API_MAX_BODY_BYTES})
    status, answer, size = post(api, "/predict", body, "x")
    assert status == 413 and f"the limit is {API_MAX_BODY_BYTES} bytes" in answer["message"]
    assert size < SMALL_ANSWER_BYTES


@pytest.mark.parametrize(("path", "valid", "who"), ROUTES, ids=[r[0] for r in ROUTES])
def test_field_errors_are_capped_with_a_count_of_the_rest(
    api: Api, path: str, valid: dict[str, Any], who: str | None
) -> None:
    # Within the policy (fewer than MAX_MEMBERS fields), so the schema names them: the first few.
    unknown = {f"{'n' * 60}{i:03d}": "v" * 1000 for i in range(200)}
    status, answer, size = post(api, path, json.dumps({**valid, **unknown}), who)
    assert status == 400, answer
    assert len(answer["errors"]) == MAX_FIELD_ERRORS
    assert answer["errors_omitted"] == 200 - MAX_FIELD_ERRORS
    assert all(len(e["field"]) <= MAX_MESSAGE_CHARS for e in answer["errors"])
    assert all(len(e["message"]) <= MAX_MESSAGE_CHARS for e in answer["errors"])
    assert size < SMALL_ANSWER_BYTES


def test_a_valid_request_at_every_limit_passes(api: Api) -> None:
    # The largest listing the API takes: the biggest photo's base64 and the longest texts, every
    # character escaped. (The photo is refused later, as not an image: the policy let it through.)
    from lambdas.api.models import MAX_PHOTO_BYTES
    from prodcat_contracts.listing import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS

    body = json.dumps(
        {
            "designation": "\U0001f600" * MAX_TITLE_CHARS,
            "description": "\U0001f600" * MAX_DESCRIPTION_CHARS,
            "photo": base64.b64encode(bytes(MAX_PHOTO_BYTES)).decode(),
            "top_k": 27,
        }
    )
    assert len(body) < API_MAX_BODY_BYTES
    status, answer, _ = post(api, "/predict", body, "x")
    assert status == 400, answer
    assert answer["message"] == "photo is not a JPEG, PNG, WEBP, GIF or BMP image"
