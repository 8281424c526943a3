"""Start a retraining run by hand: `prodcat pipeline start --stage dev`.

The state machine has a fixed name per stage (`prodcat-<stage>-retrain`, set by the pipeline
construct), so its ARN follows from the caller's account, region and partition: no stack
lookup, no extra permission beyond states:StartExecution. The run itself refuses to start
work while another one is in progress (the definition's guard), so starting twice is safe.
"""

from __future__ import annotations

import getpass
import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def state_machine_name(stage: str) -> str:
    return f"prodcat-{stage}-retrain"


def state_machine_arn(stage: str, *, account: str, region: str, partition: str = "aws") -> str:
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{state_machine_name(stage)}"


class RunInput(BaseModel):
    """What the state machine receives; the schedule and the drift alarm send `trigger` too."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger: str = "manual"
    requested_by: str = Field(min_length=1)


class StartedRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    execution_arn: str
    name: str
    console_url: str


def execution_name(requested_by: str, now: datetime) -> str:
    """Readable in the console and unique per second: manual-<who>-<UTC time>, <= 80 chars."""
    who = _UNSAFE.sub("-", requested_by).strip("-")[:40] or "someone"
    return f"manual-{who}-{now.strftime('%Y%m%dT%H%M%SZ')}"


def start_run(
    stage: str,
    *,
    sfn: Any | None = None,
    sts: Any | None = None,
    requested_by: str | None = None,
    state_machine: str | None = None,
    now: datetime | None = None,
) -> StartedRun:
    """Start an execution; clients are injectable (boto3's defaults otherwise)."""
    import boto3

    sfn = sfn or boto3.client("stepfunctions")
    if state_machine is None:
        sts = sts or boto3.client("sts")
        identity = sts.get_caller_identity()
        partition = identity["Arn"].split(":")[1]
        state_machine = state_machine_arn(
            stage, account=identity["Account"], region=sfn.meta.region_name, partition=partition
        )
    who = requested_by or getpass.getuser()
    name = execution_name(who, now or datetime.now(UTC))
    started = sfn.start_execution(
        stateMachineArn=state_machine,
        name=name,
        input=json.dumps(RunInput(requested_by=who).model_dump()),
    )
    arn: str = started["executionArn"]
    region = arn.split(":")[3]
    return StartedRun(
        execution_arn=arn,
        name=name,
        console_url=f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{arn}",
    )
