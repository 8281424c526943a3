"""Calling the SageMaker endpoint, and what its failures mean to the caller."""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError
from pydantic import ValidationError

from inference.schema import Prediction
from lambdas.api.clients import client
from lambdas.api.errors import (
    ApiError,
    BadRequest,
    PayloadTooLarge,
    Throttled,
    Unavailable,
    UpstreamFailed,
)

# Seconds to wait before retrying: a missing endpoint waits for the pipeline's first deploy,
# a cold serverless endpoint for a container to start (tens of seconds).
NO_MODEL_RETRY_AFTER = 300
COLD_RETRY_AFTER = 15


def _model_error(exc: ClientError) -> ApiError:
    """The container answered with an error: its 4xx mean the listing is at fault."""
    status = int(exc.response.get("OriginalStatusCode", 500))
    try:
        body = json.loads(exc.response.get("OriginalMessage", ""))
        message = str(body.get("error", "the model rejected the listing"))
        details = {"errors": body["details"]} if body.get("details") else {}
    except (ValueError, AttributeError):
        message, details = "the model rejected the listing", {}
    if status == 413:
        return PayloadTooLarge(message, **details)
    if 400 <= status < 500:
        return BadRequest(message, **details)
    return UpstreamFailed("the model failed on this listing; the error is logged")


def invoke(endpoint_name: str, listing: dict[str, Any], timeout_seconds: float) -> Prediction:
    runtime = client(
        "sagemaker-runtime",
        # No retries inside the Lambda: API Gateway gives up after 29 s, so a slow endpoint is
        # answered with 503 + Retry-After and the caller retries.
        Config(read_timeout=timeout_seconds, retries={"max_attempts": 1, "mode": "standard"}),
    )
    try:
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps(listing).encode(),
        )
        payload = answer["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if code == "ModelError":
            raise _model_error(exc) from exc
        if code == "ValidationError" and "not found" in message.lower():
            raise Unavailable(
                "no model is deployed yet: the training pipeline's first run creates it",
                retry_after_seconds=NO_MODEL_RETRY_AFTER,
            ) from exc
        if code in {"ThrottlingException", "TooManyRequestsException"}:
            raise Throttled("the model is busy: retry in a second") from exc
        if code in {"ModelNotReadyException", "ServiceUnavailable", "InternalDependencyException"}:
            raise Unavailable(
                "the model is starting: retry shortly", retry_after_seconds=COLD_RETRY_AFTER
            ) from exc
        raise UpstreamFailed("the model endpoint failed; the error is logged") from exc
    except (ReadTimeoutError, ConnectionError) as exc:
        raise Unavailable(
            "the model did not answer in time (a cold start): retry shortly",
            retry_after_seconds=COLD_RETRY_AFTER,
        ) from exc
    except BotoCoreError as exc:
        raise UpstreamFailed("the model endpoint failed; the error is logged") from exc
    try:
        return Prediction.model_validate_json(payload)
    except ValidationError as exc:
        raise UpstreamFailed(
            "the model answered in an unexpected shape; the error is logged"
        ) from exc
