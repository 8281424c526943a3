"""The API Gateway request models (infra/api_models.py) accept and refuse the bodies the handlers'
pydantic models do, as far as JSON Schema draft-04 can say: what it cannot (an empty listing, a
photo that is not base64, an e-mail's shape) the gateway lets through and the Lambda refuses."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft4Validator
from pydantic import BaseModel, ValidationError

from infra.api_models import REQUEST_MODELS, draft4
from lambdas.api.models import Credentials

PHOTO = "/9j/4AAQSkZJRg=="  # valid base64
# (model name, body, what pydantic says): every one is also what the gateway says.
SAME: list[tuple[str, dict[str, Any], bool]] = [
    ("PredictRequest", {"designation": "Chaise en chêne"}, True),
    ("PredictRequest", {"designation": None, "photo": PHOTO, "top_k": 3}, True),
    ("PredictRequest", {"description": "x" * 20_000}, True),
    ("PredictRequest", {"designation": "x" * 1_001}, False),
    ("PredictRequest", {"description": "x" * 20_001}, False),
    ("PredictRequest", {"designation": "a", "top_k": 0}, False),
    ("PredictRequest", {"designation": "a", "top_k": 28}, False),
    ("PredictRequest", {"designation": "a", "top_k": None}, False),
    ("PredictRequest", {"designation": 12}, False),
    ("PredictRequest", {"designation": "a", "colour": "red"}, False),
    ("Credentials", {"email": "seller@example.com", "password": "secret"}, True),
    ("Credentials", {"email": "seller@example.com"}, False),
    ("Credentials", {"email": "seller@example.com", "password": ""}, False),
    ("Credentials", {"email": "s@x.fr", "password": "p" * 257}, False),
    ("Confirmation", {"email": "seller@example.com", "code": "123456"}, True),
    ("Confirmation", {"email": "seller@example.com", "code": "1" * 33}, False),
    ("Product", {"designation": "Chaise", "prdtypecode": 1560}, True),
    ("Product", {"product_id": "sku-1.a", "photo": PHOTO, "prdtypecode": 1560}, True),
    ("Product", {"product_id": None, "designation": "Chaise", "prdtypecode": 1560}, True),
    ("Product", {"product_id": "-starts-badly", "designation": "C", "prdtypecode": 1560}, False),
    ("Product", {"product_id": "x" * 65, "designation": "C", "prdtypecode": 1560}, False),
    ("Product", {"designation": "Chaise"}, False),
    ("Product", {"designation": "Chaise", "prdtypecode": 15.5}, False),
    ("Feedback", {"prediction_id": "p-1", "prdtypecode": 1560}, True),
    ("Feedback", {"prediction_id": "", "prdtypecode": 1560}, False),
    ("Feedback", {"prediction_id": "p" * 201, "prdtypecode": 1560}, False),
    ("Feedback", {"prdtypecode": 1560}, False),
]
# Refused by the handler's validators only: the gateway passes them on to it.
LAMBDA_ONLY: list[tuple[str, dict[str, Any]]] = [
    ("PredictRequest", {}),  # no text, no photo
    ("PredictRequest", {"designation": "<br>"}),  # no text left once cleaned
    ("PredictRequest", {"photo": "not base64!"}),
    ("Credentials", {"email": "not-an-email", "password": "secret"}),
    ("Product", {"prdtypecode": 1560}),  # neither designation nor photo
]


def _pydantic_accepts(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


def _gateway_accepts(model: type[BaseModel], body: dict[str, Any]) -> bool:
    return Draft4Validator(draft4(model)).is_valid(body)


def test_every_derived_model_is_a_valid_draft4_schema() -> None:
    for model in REQUEST_MODELS.values():
        Draft4Validator.check_schema(draft4(model))


@pytest.mark.parametrize(("name", "body", "accepted"), SAME)
def test_the_gateway_and_the_handler_agree(name: str, body: dict[str, Any], accepted: bool) -> None:
    model = REQUEST_MODELS[name]
    assert _pydantic_accepts(model, body) is accepted
    assert _gateway_accepts(model, body) is accepted


@pytest.mark.parametrize(("name", "body"), LAMBDA_ONLY)
def test_what_json_schema_cannot_say_is_left_to_the_handler(
    name: str, body: dict[str, Any]
) -> None:
    model = REQUEST_MODELS[name]
    assert not _pydantic_accepts(model, body)
    assert _gateway_accepts(model, body)


class _Nested(BaseModel):
    inner: Credentials | None


def test_a_model_draft4_cannot_express_is_refused_at_synth() -> None:
    with pytest.raises(ValueError, match="draft-04"):
        draft4(_Nested)
