"""Post-deploy smoke test: the endpoint serves the model that was evaluated, through the same code.

The state machine invokes this Lambda once the endpoint is InService on the new config. It
reads the known listings the challenger's evaluation wrote (`smoke_cases.json`, see
sagemaker_jobs/smoke_cases.py), sends each to the endpoint through sagemaker-runtime, and checks
every answer: the /invocations response shape, the model version (the one the gate promoted),
and that the evaluated model's top-1 for that listing is within the endpoint's top-k. Any
failure fails the smoke test and the state machine rolls the endpoint back.

`run_smoke` is the logic on typed values, with the S3 read and the endpoint call injected;
`handler` is the thin Lambda entry point. Only lambdas/ and pydantic: no prodcat in the zip.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambdas.pipeline.gate import ReadObject, read_s3_object
from prodcat_contracts.lake import split_s3_uri

logger = Logger(service="prodcat-smoke")

# A serverless endpoint's cold start can take most of a minute; one request must not hang more.
INVOKE_TIMEOUT_S = 70
PROBABILITY_SLACK = 1e-6  # the server rounds probabilities to 6 decimals


class SmokeEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_name: str = Field(min_length=1)
    cases_uri: str = Field(pattern=r"^s3://[^/]+/.+")
    expected_model_version: str = Field(min_length=1)


class SmokeCase(BaseModel):
    """One case of smoke_cases.json (the listing is sent as is)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    listing: dict[str, Any]
    expected_top1: int


class SmokeCases(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    model_version: str
    top_k: int = Field(ge=1, le=27)
    cases: list[SmokeCase] = Field(min_length=1)


class ServedType(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: int
    name: str
    name_fr: str
    probability: float = Field(ge=0, le=1)


class ServedPrediction(BaseModel):
    """The /invocations answer for one listing (prodcat_contracts/listing.py's Prediction)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    predictions: list[ServedType] = Field(min_length=1)
    model_version: str
    modalities: list[str] = Field(min_length=1)


class CaseFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    case: str
    problem: str


class SmokeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    passed: bool
    endpoint_name: str
    model_version: str
    checked: int
    failures: list[CaseFailure]


class EndpointError(RuntimeError):
    """The endpoint did not answer 200 (a ModelError, a throttle that outlived the retries...)."""


Invoke = Callable[[str, bytes], bytes]


def check_answer(case: SmokeCase, body: bytes, expected_version: str, top_k: int) -> str | None:
    """What is wrong with the endpoint's answer to `case`, or None."""
    try:
        served = ServedPrediction.model_validate_json(body)
    except ValidationError as exc:
        return f"the answer is not a prediction: {exc.errors()[0]['msg']} ({body[:200]!r})"
    codes = [p.code for p in served.predictions]
    probabilities = [p.probability for p in served.predictions]
    if served.model_version != expected_version:
        return f"model version {served.model_version!r}, expected {expected_version!r}"
    if len(codes) != top_k:
        return f"{len(codes)} product types returned, asked for {top_k}"
    if probabilities != sorted(probabilities, reverse=True):
        return f"probabilities are not in decreasing order: {probabilities}"
    if sum(probabilities) > 1 + PROBABILITY_SLACK * len(probabilities):
        return f"probabilities sum to {sum(probabilities):.6f} > 1"
    if case.expected_top1 not in codes:
        return (
            f"the evaluated top-1 {case.expected_top1} is not in the endpoint's top-{top_k} {codes}"
        )
    return None


def run_smoke(event: SmokeEvent, read: ReadObject, invoke: Invoke) -> SmokeResult:
    bucket, key = split_s3_uri(event.cases_uri)
    cases = SmokeCases.model_validate_json(read(bucket, key))
    failures: list[CaseFailure] = []
    if cases.model_version != event.expected_model_version:
        failures.append(
            CaseFailure(
                case="*",
                problem=f"smoke cases were written for {cases.model_version!r}, the gate "
                f"promoted {event.expected_model_version!r}",
            )
        )
    for case in cases.cases:
        listing = {**case.listing, "top_k": cases.top_k}
        try:
            body = invoke(event.endpoint_name, json.dumps(listing).encode())
        except EndpointError as exc:
            failures.append(CaseFailure(case=case.id, problem=f"endpoint error: {exc}"))
            continue
        problem = check_answer(case, body, event.expected_model_version, cases.top_k)
        if problem is not None:
            failures.append(CaseFailure(case=case.id, problem=problem))
    return SmokeResult(
        passed=not failures,
        endpoint_name=event.endpoint_name,
        model_version=event.expected_model_version,
        checked=len(cases.cases),
        failures=failures,
    )


@lru_cache(maxsize=1)
def _runtime_client() -> Any:
    import boto3
    from botocore.config import Config

    # Standard retries ride out throttling and a cold start's first refusals.
    config = Config(read_timeout=INVOKE_TIMEOUT_S, retries={"mode": "standard", "max_attempts": 4})
    return boto3.client("sagemaker-runtime", config=config)


def invoke_endpoint(endpoint_name: str, body: bytes) -> bytes:
    from botocore.exceptions import ClientError

    try:
        response = _runtime_client().invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=body,
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise EndpointError(f"{error.get('Code')}: {error.get('Message')}") from exc
    payload: bytes = response["Body"].read()
    return payload


@logger.inject_lambda_context(log_event=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = run_smoke(SmokeEvent.model_validate(event), read_s3_object, invoke_endpoint)
    logger.info("smoke test", extra={"result": result.model_dump()})
    return result.model_dump()
