"""The API's Powertools resolver: routes, auth checks, error mapping. Thin by design: each route
unpacks the request and calls one plain function; errors become HTTP answers in one place.

Every API Lambda runs this handler (infra/constructs/prediction_api_construct.py); API Gateway
sends each function only its own routes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.api import auth, feedback, predict, products, request_log
from lambdas.api.clients import request_deadline
from lambdas.api.errors import (
    DEPENDENCY_RETRY_AFTER,
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    Unavailable,
)
from lambdas.api.identity import Caller, caller_from_event
from lambdas.api.models import (
    Confirmation,
    Credentials,
    FeedbackIn,
    FeedbackStored,
    Health,
    LogPage,
    PredictRequest,
    PredictResponse,
    ProductDeleted,
    ProductIn,
    ProductStored,
    Registered,
    Tokens,
)
from lambdas.api.settings import settings
from prodcat_contracts.request_policy import API_POLICY, BodyRefused, bounded_errors

METRICS_NAMESPACE = "prodcat"  # the alarms and the dashboard read this namespace

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
# Browsers on the marketplace's origins read the answers (preflight is API Gateway's).
_ORIGINS = [o for o in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if o]
app = APIGatewayRestResolver(
    enable_validation=True,
    cors=CORSConfig(
        allow_origin=_ORIGINS[0],
        extra_origins=_ORIGINS[1:],
        allow_headers=["Authorization", "Content-Type", "X-Api-Key"],
        expose_headers=["Retry-After"],  # the web page waits it out on 429 and 503
        max_age=3600,
    )
    if _ORIGINS
    else None,
)
app.configure_openapi(
    title="prodcat API",
    version="1",
    description="Product-type recommendations for marketplace listings (Rakuten France "
    "taxonomy). Every route needs the API key (x-api-key); all but /health, /register, "
    "/confirm and /login need the id token from /login as the Authorization header.",
    security_schemes={
        # API Gateway's Cognito authorizer reads the raw token from this header (no "Bearer").
        "cognito": APIKey.model_validate(
            {"name": "Authorization", "in": "header", "description": "the id_token from /login"}
        ),
        "apiKey": APIKey.model_validate({"name": "x-api-key", "in": "header"}),
    },
)
SIGNED_IN: list[dict[str, list[str]]] = [{"cognito": [], "apiKey": []}]
PUBLIC: list[dict[str, list[str]]] = [{"apiKey": []}]
MAX_PAGE = 100


def caller() -> Caller:
    return caller_from_event(app.current_event.raw_event)


def _error_response(error: ApiError) -> Response:
    return Response(
        status_code=error.status,
        content_type="application/json",
        body=error.body(),
        headers=error.headers,
    )


@app.exception_handler(ApiError)
def handle_api_error(error: ApiError) -> Response:
    if error.status >= 500 and not isinstance(error, Unavailable):
        logger.exception("request failed", status=error.status)
    elif error.status >= 500:
        logger.warning("model unavailable", status=error.status, reason=error.message)
    else:
        logger.info("request refused", status=error.status, reason=error.message)
    return _error_response(error)


@app.exception_handler([ClientError, BotoCoreError])
def handle_dependency_error(error: Exception) -> Response:
    """A table, bucket, queue or user pool that failed (or ran out of the request's time budget)
    where no route says otherwise: the service is down, not the request wrong, so 503."""
    logger.exception("a dependency failed", error=str(error))
    return _error_response(
        Unavailable(
            "a service the API depends on is failing right now: retry shortly",
            retry_after_seconds=DEPENDENCY_RETRY_AFTER,
        )
    )


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response:
    """400 with one message per field, instead of Powertools' default 422."""
    fields = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
            "message": str(e.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for e in error.errors()
    ]
    # Bounded (request_policy.py): a body full of unknown fields must not become a huge answer.
    return _error_response(BadRequest("the request is not valid", **bounded_errors(fields)))


@app.not_found
def handle_not_found(error: Exception) -> Response:
    event = app.current_event
    return _error_response(NotFound(f"no route {event.http_method} {event.path}"))


@app.get("/health", security=PUBLIC, tags=["status"])
def handle_health() -> Health:
    return Health(status="ok", stage=settings().stage)


@app.post("/register", security=PUBLIC, tags=["users"], status_code=201)
def handle_register(credentials: Annotated[Credentials, Body()]) -> Registered:
    """Create a seller account; Cognito emails a code to confirm the address."""
    return auth.register(credentials, settings())


@app.post("/confirm", security=PUBLIC, tags=["users"])
def handle_confirm(confirmation: Annotated[Confirmation, Body()]) -> dict[str, str]:
    auth.confirm(confirmation, settings())
    return {"message": "email confirmed: sign in with POST /login"}


@app.post("/login", security=PUBLIC, tags=["users"])
def handle_login(credentials: Annotated[Credentials, Body()]) -> Tokens:
    return auth.login(credentials, settings())


@app.post("/predict", security=SIGNED_IN, tags=["predictions"])
def handle_predict(listing: Annotated[PredictRequest, Body()]) -> PredictResponse:
    """The top-k product types for a listing: title, description, photo, or any mix."""
    request_id = app.current_event.request_context.request_id
    return predict.predict(listing, caller(), request_id, settings(), metrics)


@app.get("/logs", security=SIGNED_IN, tags=["predictions"])
def handle_logs(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
    user_id: Annotated[
        str | None, Query(max_length=128, description="admins only: whose log to read")
    ] = None,
) -> LogPage:
    """The caller's predictions, newest first; admins may name another user."""
    who = caller()
    if user_id is not None and user_id != who.user_id and not who.is_admin:
        raise Forbidden("sellers can read only their own log: leave out user_id")
    return request_log.query(
        settings().request_log_table,
        user_id or who.user_id,
        limit=limit,
        next_token=next_token,
    )


@app.post("/products", security=SIGNED_IN, tags=["catalogue"], status_code=201)
def handle_add_product(product: Annotated[ProductIn, Body()]) -> ProductStored:
    """Admins: add a labelled product for the next retraining."""
    return products.add_product(product, caller(), settings())


@app.delete("/products/<product_id>", security=SIGNED_IN, tags=["catalogue"])
def handle_delete_product(
    product_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> ProductDeleted:
    """Admins: leave a product out of training from the next run on."""
    return products.delete_product(product_id, caller(), settings())


@app.post("/feedback", security=SIGNED_IN, tags=["predictions"], status_code=201)
def handle_feedback(body: Annotated[FeedbackIn, Body()]) -> FeedbackStored:
    """The product type the seller finally chose for one of their predictions."""
    return feedback.give_feedback(body, caller(), settings())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    stage = settings().stage
    if metrics.default_dimensions.get("Stage") != stage:
        # Once per process: Powertools re-adds default dimensions after each flush, and setting
        # a different value warns "already added" (only tests switch stages in one process).
        metrics.dimension_set.pop("Stage", None)
        metrics.set_default_dimensions(Stage=stage)
    refused = refuse_unreadable_body(event) or refuse_against_policy(event)
    if refused is not None:
        return refused
    with request_deadline():  # every AWS call in it fits API Gateway's 29 s (clients.py)
        return app.resolve(event, context)


def refuse_unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """415 for a body that is not JSON and 400 for one that is not UTF-8, before Powertools
    parses it: its form parser raises on a multipart body without a boundary, and its JSON
    parser on bytes that are not UTF-8, which would both be 500s."""
    body = event.get("body")
    if not body:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = (headers.get("content-type") or "").strip().lower()
    if content_type and not content_type.startswith("application/json"):
        return _refusal(415, f"send JSON (Content-Type: application/json), not {content_type}")
    if event.get("isBase64Encoded"):
        try:
            base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _refusal(400, "the body is not UTF-8 JSON")
    return None


def refuse_against_policy(event: dict[str, Any]) -> dict[str, Any] | None:
    """400/413 for a body the request policy refuses (prodcat_contracts/request_policy.py: size, depth,
    number length, field count, string lengths, broken JSON), before Powertools parses it: its
    parser recurses (RecursionError) and refuses huge integers (ValueError), both 500s, and
    reports broken JSON by character offset as if it were a field."""
    body = event.get("body")
    if not body:
        return None
    text = base64.b64decode(body).decode("utf-8") if event.get("isBase64Encoded") else body
    try:
        API_POLICY.parse(text)
    except BodyRefused as refused:
        logger.info("request refused", status=refused.status, reason=refused.message)
        return _refusal(refused.status, refused.message)
    return None


def _refusal(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
        "isBase64Encoded": False,
    }
