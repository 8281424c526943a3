"""The OpenAPI document: generated from the code, committed for readers, kept in step."""

from __future__ import annotations

import json
from pathlib import Path

from lambdas.api.app import app
from lambdas.api.openapi import document
from lambdas.api.routes import ROUTES

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_committed_document_is_the_generated_one() -> None:
    assert json.loads(COMMITTED.read_text()) == document(app), (
        "docs/openapi.json is stale: python -m lambdas.api.openapi > docs/openapi.json"
    )


def test_every_gateway_route_is_documented_with_its_security() -> None:
    doc = document(app)
    for route in ROUTES:
        path = route.resource.replace("{id}", "{product_id}")
        operation = doc["paths"][path][route.method.lower()]
        schemes = {name for requirement in operation["security"] for name in requirement}
        assert schemes == ({"apiKey"} if route.public else {"apiKey", "cognito"}), route
        assert "422" not in operation["responses"]  # validation errors are 400 here
        assert "400" in operation["responses"] and "429" in operation["responses"]
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert len(documented) == len(ROUTES)
