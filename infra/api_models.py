"""API Gateway request models derived from the API's pydantic models (lambdas/api/models.py), so
the two can never disagree about a body's shape.

API Gateway validates a REST body against JSON Schema draft-04 before the Lambda runs; pydantic
emits draft 2020-12. `draft4` converts what the request models use: `anyOf [X, null]` (an
optional field) becomes `type: [X, "null"]`, and the keywords draft-04 lacks or API Gateway has
no use for (`title`, `default`, `examples`) are dropped. What JSON Schema cannot say (a listing
with no text nor photo, a photo that is not base64, an e-mail's shape) the Lambda still refuses
with its own message; the gateway refuses only what the schema says.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import aws_apigateway as apigw
from pydantic import BaseModel

from lambdas.api.models import Confirmation, Credentials, FeedbackIn, PredictRequest, ProductIn

# The API Gateway model name -> the pydantic model the handler validates the body with.
REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "Credentials": Credentials,
    "Confirmation": Confirmation,
    "PredictRequest": PredictRequest,
    "Product": ProductIn,
    "Feedback": FeedbackIn,
}
DRAFT4 = "http://json-schema.org/draft-04/schema#"
_DROPPED = frozenset({"title", "default", "examples"})
_SUBSCHEMA = frozenset({"items", "additionalProperties"})


def _convert(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if branches is not None:
        others = [b for b in branches if b != {"type": "null"}]
        if len(others) != 1 or len(others) == len(branches):
            raise ValueError(f"only `X or null` unions convert to draft-04: {schema}")
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        merged = _convert({**others[0], **rest})
        return {**merged, "type": [merged["type"], "null"]}
    if "$ref" in schema or "allOf" in schema or "oneOf" in schema:
        raise ValueError(f"a nested model or union does not convert to draft-04: {schema}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA and isinstance(value, dict):
            out[key] = _convert(value)
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            # 2020-12 gives the bound; draft-04 a flag beside minimum/maximum.
            out[key.replace("exclusiveM", "m")] = value
            out[key] = True
        else:
            out[key] = value
    return out


def draft4(model: type[BaseModel]) -> dict[str, Any]:
    """The model's request body as a JSON Schema draft-04 document."""
    return {"$schema": DRAFT4, **_convert(model.model_json_schema(mode="validation"))}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _type(name: str) -> apigw.JsonSchemaType:
    return apigw.JsonSchemaType(name.upper())


def json_schema(schema: dict[str, Any]) -> apigw.JsonSchema:
    """A draft-04 document as CDK's JsonSchema (which renders it back to the same JSON)."""
    kwargs: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$schema":
            kwargs["schema"] = apigw.JsonSchemaVersion.DRAFT4
        elif key == "type":
            kwargs["type"] = [_type(t) for t in value] if isinstance(value, list) else _type(value)
        elif key == "properties":
            kwargs["properties"] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA and isinstance(value, dict):
            kwargs[_snake(key)] = json_schema(value)
        else:
            kwargs[_snake(key)] = value
    return apigw.JsonSchema(**kwargs)
