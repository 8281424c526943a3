"""The /invocations listing contract (inference/schema.py) and what the container answers when a
listing has characters but no text: a 400 that says so, before the model is asked (the model
reads such a listing as having no input at all and fails)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

import inference.server
from inference.schema import EMPTY_LISTING, NO_TEXT_LEFT, Batch, Listing

NO_TEXT: list[dict[str, str]] = json.loads(
    (Path(__file__).parents[1] / "events" / "listings_without_text.json").read_text()
)


class _Model:
    version = "stub"


class _Predictor:
    """Stands in for the loaded model: these requests must be refused before it is used."""

    def __init__(self, model_dir: Path) -> None:
        self.model = _Model()
        self.load_seconds = 0.0
        self.calls: list[Any] = []

    def predict(self, listings: list[Listing]) -> list[Any]:
        self.calls.append(listings)
        raise AssertionError("a listing without text reached the model")


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FastAPI:
    monkeypatch.setattr(inference.server, "Predictor", _Predictor)
    return inference.server.create_app(tmp_path)


def invoke(app: FastAPI, payload: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://model") as client:
            return await client.post("/invocations", json=payload)

    return asyncio.run(call())


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
    container: FastAPI, body: dict[str, str]
) -> None:
    for payload, field in (
        (body, "body"),
        ({"instances": [{"designation": "Chaise"}, body]}, "instances.1"),
    ):
        response = invoke(container, payload)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["details"] == [{"field": field, "message": NO_TEXT_LEFT}]
    assert container.state.predictor.calls == []


def test_a_batch_validates_every_listing() -> None:
    with pytest.raises(ValidationError):
        Batch.model_validate({"instances": [{"designation": "<br>"}]})
