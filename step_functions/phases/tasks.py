"""The pipeline's own task builders over step_functions/asl.py: per-run job names, its
processing jobs (jobs image, code version, processing resources), on-call notifications and
the endpoint's status checks, shared by several phases."""

from __future__ import annotations

from typing import Any

from prodcat_contracts import job_env
from step_functions import asl
from step_functions.asl import State
from step_functions.settings import PipelineDefinitionSettings, sub

# What DescribeEndpoint says when a deploy will not become InService on its own.
_ENDPOINT_BROKEN = ("Failed", "OutOfService", "UpdateRollbackFailed")


def job_name(settings: PipelineDefinitionSettings, kind: str) -> str:
    # <= 63 chars: prefix (<= 21) + kind (<= 7) + short id (20) + retry count + 3 dashes;
    # tests/infra/test_service_contracts.py expands every name against botocore's limits.
    return (
        f"States.Format('{settings.name_prefix}-{kind}-{{}}-{{}}', $.run.short_id, "
        "$$.State.RetryCount)"
    )


def processing_job(
    settings: PipelineDefinitionSettings,
    *,
    kind: str,
    module: str,
    role: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    arguments: list[str] | None = None,
) -> dict[str, Any]:
    """A run's processing job in the jobs image, with its run id and code version."""
    return asl.processing_job(
        name=job_name(settings, kind),
        role_arn=sub(role),
        image_uri=sub("JobsImageUri"),
        module=module,
        arguments=arguments,
        environment={
            f"{job_env.RUN_ID}.$": "$.run.id",
            job_env.CODE_VERSION: sub("CodeVersion"),
        },
        inputs=inputs,
        outputs=outputs,
        instance_type=settings.processing.instance_type,
        volume_size_gb=settings.processing.volume_size_gb,
        max_runtime_seconds=settings.processing.max_runtime_seconds,
    )


def notify(subject: str, message_format: str, args: str, next_state: str) -> State:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {
            "TopicArn": sub("OnCallTopicArn"),
            "Subject": subject,
            "Message.$": f"States.Format('{message_format}', {args})",
        },
        "ResultPath": None,
        "Retry": asl.api_retry(),
        "Next": next_state,
    }


def endpoint_is(status: str) -> dict[str, Any]:
    return {"Variable": "$.endpoint.status", "StringEquals": status}


def endpoint_broken() -> dict[str, Any]:
    return {"Or": [endpoint_is(status) for status in _ENDPOINT_BROKEN]}


def describe_endpoint(endpoint: str, next_state: str) -> State:
    """The endpoint's status and config into $.endpoint (polled after a deploy or a restore)."""
    return asl.aws_call(
        "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
        {"EndpointName": endpoint},
        next_state,
        result_selector={
            "status.$": "$.EndpointStatus",
            "endpoint_config_name.$": "$.EndpointConfigName",
        },
        result_path="$.endpoint",
    )
