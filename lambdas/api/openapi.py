"""The OpenAPI document, generated from the resolver's routes and pydantic models.

Powertools documents validation failures as 422; this API answers them with 400 (app.py), and
every route can also answer with the errors below, so the document says so.
`python -m lambdas.api.openapi > docs/openapi.json` writes it; a test keeps that file current.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from prodcat_contracts.request_policy import (
    API_MAX_BODY_BYTES,
    API_MAX_STRING_CHARS,
    MAX_DEPTH,
    MAX_FIELD_ERRORS,
    MAX_MEMBERS,
    MAX_NUMBER_CHARS,
)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "what went wrong and what to change"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
            "maxItems": MAX_FIELD_ERRORS,
            "description": f"the first {MAX_FIELD_ERRORS} fields at fault",
        },
        "errors_omitted": {
            "type": "integer",
            "description": "how many more fields are at fault than `errors` lists",
        },
    },
}
_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# The request policy (prodcat_contracts/request_policy.py), applied to every body before it is parsed.
BODY_TOO_LARGE = (
    f"the body is over {API_MAX_BODY_BYTES} bytes, or a string in it over "
    f"{API_MAX_STRING_CHARS} characters"
)
COMMON_ERRORS = {
    "400": "the request is not valid: `errors` names the fields at fault; or the body is not "
    f"JSON (the message gives the line and column), nests deeper than {MAX_DEPTH} levels, has "
    f"more than {MAX_MEMBERS} fields and items, or a number over {MAX_NUMBER_CHARS} characters",
    "403": "no or wrong API key",
    "429": "throttled: retry after the Retry-After header's seconds",
}
SIGNED_IN_ERRORS = {"401": "no or expired id token: sign in with POST /login"}
ROUTE_ERRORS: dict[tuple[str, str], dict[str, str]] = {
    ("/predict", "post"): {
        "413": "the body or the photo is over its limit",
        "502": "the model failed on this listing",
        "503": "no model deployed yet, or the endpoint is starting: retry after Retry-After",
    },
    ("/logs", "get"): {"403": "a seller asked for another user's log"},
    ("/products", "post"): {
        "403": "not an admin",
        "409": "a product with this id exists",
        "413": "the body or the photo is over its limit (bytes, or pixels)",
        "503": "not stored: retry",
    },
    ("/products/{product_id}", "delete"): {
        "403": "not an admin",
        "404": "the id holds characters no product id has (e.g. a slash)",
        "503": "not deleted: retry",
    },
    ("/feedback", "post"): {"404": "no such prediction in the caller's log"},
    ("/register", "post"): {"409": "an account with this email exists"},
    ("/login", "post"): {"401": "wrong email or password, or the email is not confirmed"},
}


def document(app: APIGatewayRestResolver) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            responses.pop("422", None)
            signed_in = any("cognito" in s for s in operation.get("security", []))
            errors = {
                **COMMON_ERRORS,
                **(SIGNED_IN_ERRORS if signed_in else {}),
                **ROUTE_ERRORS.get((path, method), {}),
            }
            if "requestBody" in operation:
                errors["415"] = "the body is not JSON"
                errors.setdefault("413", BODY_TOO_LARGE)
            for status, description in errors.items():
                responses[status] = {"description": description, "content": _ERROR_REF}
    return doc


def main() -> None:
    from lambdas.api.app import app

    json.dump(document(app), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
