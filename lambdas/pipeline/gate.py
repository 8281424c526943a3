"""The promotion gate: promote a challenger only if it beats the champion on the same test set.

`decide` is the rule, on typed values; `handler` is the thin Lambda entry point the state
machine's Gate task invokes with two metrics.json locations (the champion's is null for a
brand-new deployment) and the policy from cdk.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from prodcat_contracts.gate import EvaluationReport, GatePolicy, Metric, Mode
from prodcat_contracts.lake import split_s3_uri

logger = Logger(service="prodcat-gate")


class GateDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    promote: bool
    reasons: list[str]
    mode: Mode
    metric: Metric
    challenger_score: float | None
    champion_score: float | None
    challenger_version: str
    champion_version: str | None


class GateEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    challenger_metrics_uri: str = Field(pattern=r"^s3://[^/]+/.+")
    champion_metrics_uri: str | None = Field(default=None, pattern=r"^s3://[^/]+/.+")
    policy: GatePolicy


def decide(
    challenger: EvaluationReport, champion: EvaluationReport | None, policy: GatePolicy
) -> GateDecision:
    """Apply the floors, then (when a champion exists) the margin on the chosen metric."""
    mine = challenger.mode(policy.mode)
    score: float | None = getattr(mine, policy.metric)
    reasons: list[str] = []
    missing = [
        m for m in dict.fromkeys(("accuracy", "ece", policy.metric)) if getattr(mine, m) is None
    ]
    if mine.n == 0:
        reasons.append(f"challenger was evaluated on no {policy.mode} rows")
    elif missing:
        reasons.append(f"challenger's {policy.mode} metrics lack {', '.join(missing)}")
    if mine.accuracy is not None and mine.accuracy < policy.min_accuracy:
        reasons.append(
            f"{policy.mode} accuracy {mine.accuracy:.4f} is below the floor "
            f"{policy.min_accuracy:.4f}"
        )
    if mine.ece is not None and mine.ece > policy.max_ece:
        reasons.append(
            f"{policy.mode} calibration error {mine.ece:.4f} is above the ceiling "
            f"{policy.max_ece:.4f}"
        )
    champion_score: float | None = None
    if champion is not None:
        theirs = champion.mode(policy.mode)
        champion_score = getattr(theirs, policy.metric)
        if theirs.n != mine.n:
            reasons.append(
                f"challenger and champion were evaluated on different test sets "
                f"({mine.n} vs {theirs.n} {policy.mode} rows)"
            )
        elif champion_score is None and mine.n > 0:
            reasons.append(f"the champion's {policy.mode} metrics lack {policy.metric}")
        if score is not None and champion_score is not None:
            needed = champion_score + policy.margin
            if score < needed:
                reasons.append(
                    f"{policy.mode} {policy.metric} {score:.4f} does not beat the champion's "
                    f"{champion_score:.4f} by the margin {policy.margin:.4f}"
                )
    return GateDecision(
        promote=not reasons,
        reasons=reasons or ["challenger clears every floor and beats the champion"],
        mode=policy.mode,
        metric=policy.metric,
        challenger_score=score,
        champion_score=champion_score,
        challenger_version=challenger.model_version,
        champion_version=None if champion is None else champion.model_version,
    )


ReadObject = Callable[[str, str], bytes]


@lru_cache(maxsize=1)
def _s3_client() -> Any:
    import boto3  # the Lambda runtime ships boto3; created on first use, not at import

    return boto3.client("s3")


def read_s3_object(bucket: str, key: str) -> bytes:
    body: bytes = _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def load_report(uri: str, read: ReadObject = read_s3_object) -> EvaluationReport:
    bucket, key = split_s3_uri(uri)
    return EvaluationReport.model_validate(json.loads(read(bucket, key)))


def run_gate(event: GateEvent, read: ReadObject = read_s3_object) -> GateDecision:
    challenger = load_report(event.challenger_metrics_uri, read)
    champion = None
    if event.champion_metrics_uri is not None:
        champion = load_report(event.champion_metrics_uri, read)
    return decide(challenger, champion, event.policy)


@logger.inject_lambda_context(log_event=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    decision = run_gate(GateEvent.model_validate(event))
    logger.info("gate decision", extra={"decision": decision.model_dump()})
    return decision.model_dump()
