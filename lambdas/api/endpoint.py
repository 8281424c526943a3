"""Calling the SageMaker endpoint, and what its failures mean to the caller.

Only the container's 4xx answers are the listing's fault (400, or 413 for one too large). Every
other failure is the model being unavailable, whatever the cause: no endpoint yet, a cold or
dying container, a container that answered 5xx or nothing at all, an answer in the wrong
shape, a timeout (clients.py: the endpoint's budget). The caller gets 503 + Retry-After for
those, never a 5xx that blames the listing; the cause is logged.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError
from pydantic import ValidationError

from lambdas.api.clients import client
from lambdas.api.errors import ApiError, BadRequest, PayloadTooLarge, Throttled, Unavailable
from prodcat_contracts.listing import Prediction

logger = Logger(child=True)

# Seconds to wait before retrying: a missing endpoint waits for the pipeline's first deploy,
# a cold serverless endpoint for a container to start (tens of seconds), a failing one for a
# replacement container or the deployment's automatic rollback.
NO_MODEL_RETRY_AFTER = 300
COLD_RETRY_AFTER = 15
FAILING_RETRY_AFTER = 30
# Container statuses that say "not now" rather than "not this listing".
_RETRYABLE_4XX = {408, 425, 429}


def _failing(message: str) -> Unavailable:
    return Unavailable(message, retry_after_seconds=FAILING_RETRY_AFTER)


def _model_error(exc: ClientError) -> ApiError:
    """The container answered with an error: its 4xx mean the listing is at fault."""
    try:
        status = int(exc.response.get("OriginalStatusCode", 500))
    except (TypeError, ValueError):
        status = 500
    if not 400 <= status < 500 or status in _RETRYABLE_4XX:
        # A crash, an out-of-memory kill, a timeout inside SageMaker: not the seller's doing.
        logger.error("the model container failed", original_status=status, error=str(exc))
        return _failing("the model is failing right now; the error is logged: retry shortly")
    try:
        body = json.loads(exc.response.get("OriginalMessage", ""))
        message = str(body.get("error", "the model rejected the listing"))
        details = {"errors": body["details"]} if body.get("details") else {}
    except (ValueError, AttributeError, TypeError):
        message, details = "the model rejected the listing", {}
    if status == 413:
        return PayloadTooLarge(message, **details)
    return BadRequest(message, **details)


def _client_error(exc: ClientError) -> ApiError:
    code = exc.response.get("Error", {}).get("Code", "")
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if code == "ModelError":
        return _model_error(exc)
    if code == "ValidationError" and "not found" in message.lower():
        return Unavailable(
            "no model is deployed yet: the training pipeline's first run creates it",
            retry_after_seconds=NO_MODEL_RETRY_AFTER,
        )
    if code in {"ThrottlingException", "TooManyRequestsException"}:
        return Throttled("the model is busy: retry in a second")
    if code in {"ModelNotReadyException", "ServiceUnavailable", "InternalDependencyException"}:
        return Unavailable(
            "the model is starting: retry shortly", retry_after_seconds=COLD_RETRY_AFTER
        )
    # InternalFailure, AccessDenied after a bad deploy, anything new: the endpoint's problem.
    logger.error("the model endpoint failed", code=code, error=str(exc))
    return _failing("the model endpoint is failing right now; the error is logged: retry shortly")


def invoke(endpoint_name: str, listing: dict[str, Any]) -> Prediction:
    # Timeouts and attempts: the endpoint's line in clients.BUDGET.
    runtime = client("sagemaker-runtime")
    try:
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps(listing).encode(),
        )
        payload = answer["Body"].read()
    except ClientError as exc:
        raise _client_error(exc) from exc
    except (ReadTimeoutError, ConnectionError) as exc:
        raise Unavailable(
            "the model did not answer in time (a cold start): retry shortly",
            retry_after_seconds=COLD_RETRY_AFTER,
        ) from exc
    except BotoCoreError as exc:  # OutOfTime, a response cut short, ...
        logger.error("calling the model endpoint failed", error=str(exc))
        raise _failing("the model endpoint did not answer; retry shortly") from exc
    try:
        return Prediction.model_validate_json(payload)
    except ValidationError as exc:
        # A model that breaks the serving contract is a bad deploy: its rollback alarm fires.
        logger.error("the model answered in an unexpected shape", error=str(exc))
        raise _failing("the model answered in an unexpected shape; the error is logged") from exc
