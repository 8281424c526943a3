"""ASL (Amazon States Language, JSONPath) building blocks shared by the state machines in this
package: the retraining pipeline (definition.py, phases/) and the drift check (drift_check.py).

Plain dicts, no CDK: CDK's Step Functions tasks have no CreateProcessingJob, and moto executes
the same dicts in the tests. Every builder returns a fresh object, so callers may extend it.
"""

from __future__ import annotations

from typing import Any

State = dict[str, Any]

SYNC_PROCESSING_JOB = "arn:aws:states:::sagemaker:createProcessingJob.sync"


def placeholder(name: str) -> str:
    """A deploy-time value, filled by CloudFormation's DefinitionSubstitutions."""
    return "${" + name + "}"


def retry(errors: list[str], *, interval_seconds: int, max_attempts: int) -> list[dict[str, Any]]:
    """One retrier with exponential backoff and full jitter (retries spread out, not in step)."""
    return [
        {
            "ErrorEquals": errors,
            "IntervalSeconds": interval_seconds,
            "MaxAttempts": max_attempts,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        }
    ]


def job_retry() -> list[dict[str, Any]]:
    # Job names carry $$.State.RetryCount, so a retried Create* never collides with the
    # failed attempt's name; the backoff rides out capacity and throttling errors.
    return retry(["States.TaskFailed", "States.Timeout"], interval_seconds=60, max_attempts=2)


def api_retry() -> list[dict[str, Any]]:
    return retry(["States.TaskFailed"], interval_seconds=5, max_attempts=4)


def lambda_retry() -> list[dict[str, Any]]:
    # Only the Lambda service's own transient errors: a function error is an answer.
    return retry(
        [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        interval_seconds=2,
        max_attempts=6,
    )


def catch(next_state: str = "NotifyFailure") -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": next_state}]


def aws_call(
    resource: str,
    parameters: dict[str, Any],
    next_state: str,
    *,
    result_selector: dict[str, Any] | None = None,
    result_path: str | None = None,
    catch_into: str = "NotifyFailure",
    comment: str | None = None,
) -> State:
    """A request-response AWS call with the API retry and a catch."""
    state: State = {"Type": "Task"}
    if comment:
        state["Comment"] = comment
    state |= {"Resource": resource, "Parameters": parameters}
    if result_selector is not None:
        state["ResultSelector"] = result_selector
    state |= {
        "ResultPath": result_path,
        "Retry": api_retry(),
        "Catch": catch(catch_into),
        "Next": next_state,
    }
    return state


def failure(error: str, cause_format: str, args: str, next_state: str) -> State:
    """Record a failure the state machine detected itself, the way a Catch records one."""
    return {
        "Type": "Pass",
        "Parameters": {"Error": error, "Cause.$": f"States.Format('{cause_format}', {args})"},
        "ResultPath": "$.error",
        "Next": next_state,
    }


def s3_input(name: str, uri_path: str, local_path: str) -> dict[str, Any]:
    """A processing-job input: the S3 prefix at JSONPath `uri_path`, copied in before the job."""
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri.$": uri_path,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def s3_output(name: str, uri_path: str, local_path: str) -> dict[str, Any]:
    """A processing-job output: `local_path` uploaded to the S3 URI at `uri_path` at the end."""
    return {
        "OutputName": name,
        "S3Output": {"S3Uri.$": uri_path, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }


def processing_job(
    *,
    name: str,
    role_arn: str,
    image_uri: str,
    module: str,
    environment: dict[str, str],
    outputs: list[dict[str, Any]],
    instance_type: str,
    volume_size_gb: int,
    max_runtime_seconds: int,
    inputs: list[dict[str, Any]] | None = None,
    arguments: list[str] | None = None,
    arguments_path: str | None = None,
) -> dict[str, Any]:
    """CreateProcessingJob's request: `python -m <module>` in the image on one instance.

    `name` is an intrinsic (a per-run, per-retry name); `arguments` are literal container
    arguments, `arguments_path` an intrinsic that builds them at run time. Without `inputs` the
    job reads S3 itself.
    """
    app: dict[str, Any] = {"ImageUri": image_uri, "ContainerEntrypoint": ["python", "-m", module]}
    if arguments:
        app["ContainerArguments"] = arguments
    if arguments_path:
        app["ContainerArguments.$"] = arguments_path
    request: dict[str, Any] = {
        "ProcessingJobName.$": name,
        "RoleArn": role_arn,
        "AppSpecification": app,
        "Environment": environment,
    }
    if inputs is not None:
        request["ProcessingInputs"] = inputs
    return request | {
        "ProcessingOutputConfig": {"Outputs": outputs},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": instance_type,
                "VolumeSizeInGB": volume_size_gb,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
    }
