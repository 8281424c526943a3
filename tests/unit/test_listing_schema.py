"""The /invocations listing contract (prodcat_contracts/listing.py) and what the container answers when a
listing has characters but no text: a 400 that says so, before the model is asked (the model
reads such a listing as having no input at all and fails)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from prodcat_contracts.listing import EMPTY_LISTING, NO_TEXT_LEFT, Batch, Listing

NO_TEXT: list[dict[str, str]] = json.loads(
    (Path(__file__).parents[1] / "events" / "listings_without_text.json").read_text()
)

Invoke = Callable[[FastAPI, bytes], httpx.Response]  # the `invoke` fixture (conftest.py)


@pytest.mark.parametrize("body", NO_TEXT, ids=json.dumps)
def test_a_listing_whose_text_cleans_to_nothing_is_invalid(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="empty after removing markup"):
        Listing.model_validate(body)
    # With a photo it is a photo-only listing, as training reads such a row.
    assert Listing.model_validate({**body, "photo": "AAAA"}).photo == "AAAA"


@pytest.mark.parametrize("body", [{}, {"designation": "  ", "description": "\n\t"}])
def test_a_blank_listing_is_called_empty(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        Listing.model_validate(body)
    assert EMPTY_LISTING in str(caught.value) and NO_TEXT_LEFT not in str(caught.value)


@pytest.mark.parametrize("body", NO_TEXT, ids=json.dumps)
def test_container_answers_400_alone_and_in_a_batch(
    container: FastAPI, invoke: Invoke, body: dict[str, str]
) -> None:
    for payload, field in (
        (body, "body"),
        ({"instances": [{"designation": "Chaise"}, body]}, "instances.1"),
    ):
        response = invoke(container, json.dumps(payload).encode())
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["details"] == [{"field": field, "message": NO_TEXT_LEFT}]
    assert container.state.predictor.calls == []


def test_a_batch_validates_every_listing() -> None:
    with pytest.raises(ValidationError):
        Batch.model_validate({"instances": [{"designation": "<br>"}]})
