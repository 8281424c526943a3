"""The retrain -> evaluate -> gate -> register -> deploy state machine, as plain ASL (JSONPath).

Pure Python, no CDK: the pipeline construct renders it with `json.dumps` and fills the
``${Placeholder}`` names in `PLACEHOLDERS` with deploy-time values (bucket, roles, images,
function and topic ARNs, code version) through CloudFormation definition substitutions; tests
(asl-validator, moto's interpreter through step_functions/render.py) use the same dict. Static
settings (instance types, serverless memory, gate policy, rollback alarms) are rendered in from
`PipelineDefinitionSettings`.

Flow:
  NameRun -> PlanRun -> ListRunningRuns -> (another, older run is RUNNING: NotifyAlreadyRunning
  -> AlreadyRunning) -> Prepare (processing: raw zone -> curated/<run>/, dataset.json) ->
  ReadDataset -> Train -> LookupChampion -> [Evaluate challenger, and the champion on the *same*
  test rows when one exists] -> Gate (Lambda) ->
  rejected: RegisterRejected -> NotifyRejected -> NotPromoted
  promoted: RegisterCandidate (PendingManualApproval) -> CreateModel -> CreateEndpointConfig ->
    CreateEndpoint, or RememberPreviousConfig -> UpdateEndpoint (blue/green, auto-rollback
    alarms) -> wait until InService -> SmokeTest (Lambda) -> ApproveChallenger -> publish
    metrics.json and baseline.json under models/production/ -> NotifyDeployed -> Deployed
  deploy or smoke test failed: RejectChallenger -> back to the previous endpoint config (or
    delete the endpoint a first deploy created) -> NotifyRolledBack -> RolledBack
Every SageMaker task retries with backoff and catches (into NotifyFailure -> PipelineFailed);
every terminal state is preceded by a notification to the on-call topic that says what happened
with links to the execution and the artefacts.

The champion is the newest *Approved* package of the group, and a package is approved only once
it serves and passed the smoke test: the champion is always the model in production.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prodcat.transform_job import transform_request
from prodcat_contracts.gate import GatePolicy
from prodcat_contracts.lake import (
    DATASET_MANIFEST,
    PRODUCTION_BASELINE_KEY,
    PRODUCTION_METRICS_KEY,
    SMOKE_CASES,
)

State = dict[str, Any]

# Deploy-time values, substituted by CloudFormation (DefinitionSubstitutions).
PLACEHOLDERS = (
    "DataLakeBucket",
    "PrepareRoleArn",
    "EvaluateRoleArn",
    "TrainingRoleArn",
    "ModelRoleArn",
    "JobsImageUri",
    "ServingImageUri",
    "CodeVersion",
    "ModelPackageGroupName",
    "GateFunctionArn",
    "SmokeFunctionArn",
    "OnCallTopicArn",
    "CatalogueRoleArn",
)

# Container paths: the SageMaker contract that sagemaker_jobs/ implements.
PREPARE_INPUT = "/opt/ml/processing/input"
PREPARE_OUTPUT = "/opt/ml/processing/output"
EVALUATE_MODEL = "/opt/ml/processing/model"
EVALUATE_TEST = "/opt/ml/processing/test"
EVALUATE_OUTPUT = "/opt/ml/processing/evaluation"

# What DescribeEndpoint says when a deploy will not become InService on its own.
_ENDPOINT_BROKEN = ("Failed", "OutOfService", "UpdateRollbackFailed")

# 8 + 12 hex digits of the run's UUID: unique per run, short enough for SageMaker's 63-char
# names with a prefix, a kind and the retry count.
_SHORT_ID = (
    "States.Format('{}{}', States.ArrayGetItem(States.StringSplit($.run.id, '-'), 0), "
    "States.ArrayGetItem(States.StringSplit($.run.id, '-'), 4))"
)
_REGION = "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3)"


class JobResources(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: str
    volume_size_gb: int = Field(ge=1)
    max_runtime_seconds: int = Field(ge=60)


class ServerlessSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_size_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None


class DeploySettings(BaseModel):
    """UpdateEndpoint's blue/green policy. The old fleet keeps serving until the new one is
    healthy and the bake time is over; an alarm in ALARM during the bake rolls SageMaker back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rollback_alarm_names: tuple[str, ...] = Field(min_length=1, max_length=10)
    bake_seconds: int = Field(default=600, ge=0, le=3600)
    timeout_seconds: int = Field(default=3600, ge=600, le=28800)


class ReclassifySettings(BaseModel):
    """After a deploy, classify the whole catalogue with the new model (Batch Transform)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: str
    instance_count: int = Field(default=1, ge=1, le=20)


class PipelineDefinitionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")
    endpoint_name: str
    raw_prefix: str
    curated_prefix: str
    artifacts_prefix: str
    reports_prefix: str
    processing: JobResources
    training: JobResources
    hyperparameters: dict[str, str]
    serverless: ServerlessSettings
    gate: GatePolicy
    deploy: DeploySettings
    test_share: float = Field(default=0.15, gt=0, lt=0.5)
    validation_share: float = Field(default=0.0, ge=0, lt=0.5)
    smoke_cases: int = Field(default=8, ge=1, le=32)
    training_retry_attempts: int = Field(default=2, ge=0, le=30)
    endpoint_poll_seconds: int = Field(default=60, ge=5)
    predictions_prefix: str = "models/predictions/"
    reclassify: ReclassifySettings | None = None


def _sub(name: str) -> str:
    if name not in PLACEHOLDERS:
        raise KeyError(name)
    return "${" + name + "}"


def _job_retry() -> list[dict[str, Any]]:
    # Job names carry $$.State.RetryCount, so a retried Create* never collides with the
    # failed attempt's name; the backoff rides out capacity and throttling errors.
    return [
        {
            "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
            "IntervalSeconds": 60,
            "MaxAttempts": 2,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        }
    ]


def _api_retry() -> list[dict[str, Any]]:
    return [
        {
            "ErrorEquals": ["States.TaskFailed"],
            "IntervalSeconds": 5,
            "MaxAttempts": 4,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        }
    ]


def _lambda_retry() -> list[dict[str, Any]]:
    # Only the Lambda service's own transient errors: a function error is an answer.
    return [
        {
            "ErrorEquals": [
                "Lambda.ServiceException",
                "Lambda.AWSLambdaException",
                "Lambda.SdkClientException",
                "Lambda.TooManyRequestsException",
            ],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        }
    ]


def _catch(next_state: str = "NotifyFailure") -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": next_state}]


# The kind of job in its name: distinct per Create*Job state of one run, since SageMaker
# refuses a second job of a name (the two evaluations run side by side in one Parallel).
_EVALUATION_KIND = {"challenger": "evchal", "champion": "evchamp"}


def _job_name(settings: PipelineDefinitionSettings, kind: str) -> str:
    # <= 63 chars: prefix (<= 21) + kind (<= 7) + short id (20) + retry count + 3 dashes;
    # tests/infra/test_service_contracts.py expands every name against botocore's limits.
    return (
        f"States.Format('{settings.name_prefix}-{kind}-{{}}-{{}}', $.run.short_id, "
        "$$.State.RetryCount)"
    )


def _processing_job(
    settings: PipelineDefinitionSettings,
    *,
    kind: str,
    module: str,
    role: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    arguments: list[str] | None = None,
) -> dict[str, Any]:
    app: dict[str, Any] = {
        "ImageUri": _sub("JobsImageUri"),
        "ContainerEntrypoint": ["python", "-m", module],
    }
    if arguments:
        app["ContainerArguments"] = arguments
    return {
        "ProcessingJobName.$": _job_name(settings, kind),
        "RoleArn": _sub(role),
        "AppSpecification": app,
        "Environment": {
            "PRODCAT_RUN_ID.$": "$.run.id",
            "PRODCAT_CODE_VERSION": _sub("CodeVersion"),
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"Outputs": outputs},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": settings.processing.instance_type,
                "VolumeSizeInGB": settings.processing.volume_size_gb,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.processing.max_runtime_seconds},
    }


def _s3_input(name: str, uri_path: str, local_path: str) -> dict[str, Any]:
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


def _s3_output(name: str, uri_path: str, local_path: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "S3Output": {"S3Uri.$": uri_path, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }


def _evaluate_state(
    settings: PipelineDefinitionSettings, *, who: str, model_path: str, next_state: str | None
) -> State:
    reports = f"$.run.{who}_report_uri"
    # Only the challenger needs known listings for the smoke test after its deploy.
    smoke = settings.smoke_cases if who == "challenger" else 0
    state: State = {
        "Type": "Task",
        "Comment": f"Evaluate the {who} on this run's test split (metrics.json, baseline.json"
        + (", smoke_cases.json)." if smoke else ")."),
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": _processing_job(
            settings,
            kind=_EVALUATION_KIND[who],
            module="sagemaker_jobs.evaluate",
            role="EvaluateRoleArn",
            inputs=[
                _s3_input("model", model_path, EVALUATE_MODEL),
                _s3_input("test", "$.run.test_uri", EVALUATE_TEST),
            ],
            outputs=[_s3_output("evaluation", reports, EVALUATE_OUTPUT)],
            arguments=["--smoke-cases", str(smoke)],
        ),
        "ResultSelector": {"job_name.$": "$.ProcessingJobName"},
        "ResultPath": f"$.{who}_evaluation",
        "Retry": _job_retry(),
    }
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def _notify(subject: str, message_format: str, args: str, next_state: str) -> State:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {
            "TopicArn": _sub("OnCallTopicArn"),
            "Subject": subject,
            "Message.$": f"States.Format('{message_format}', {args})",
        },
        "ResultPath": None,
        "Retry": _api_retry(),
        "Next": next_state,
    }


def _aws(
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
        "Retry": _api_retry(),
        "Catch": _catch(catch_into),
        "Next": next_state,
    }
    return state


def _endpoint_is(status: str) -> dict[str, Any]:
    return {"Variable": "$.endpoint.status", "StringEquals": status}


def _endpoint_broken() -> dict[str, Any]:
    return {"Or": [_endpoint_is(status) for status in _ENDPOINT_BROKEN]}


def _failure(error: str, cause_format: str, args: str, next_state: str) -> State:
    """Record a failure the state machine detected itself, the way a Catch records one."""
    return {
        "Type": "Pass",
        "Parameters": {"Error": error, "Cause.$": f"States.Format('{cause_format}', {args})"},
        "ResultPath": "$.error",
        "Next": next_state,
    }


def _run_plan(settings: PipelineDefinitionSettings, bucket: str) -> State:
    def run_uri(prefix: str, suffix: str) -> str:
        return f"States.Format('s3://{bucket}/{prefix}{{}}/{suffix}', $.run.id)"

    return {
        "Type": "Pass",
        "Comment": "Every name and location of this run, derived once from its id.",
        "Parameters": {
            "id.$": "$.run.id",
            "execution.$": "$$.Execution.Id",
            "short_id.$": _SHORT_ID,
            "endpoint_config_name.$": f"States.Format('{settings.name_prefix}-{{}}', {_SHORT_ID})",
            "raw_uri": f"s3://{bucket}/{settings.raw_prefix}",
            "curated_uri.$": run_uri(settings.curated_prefix, ""),
            "train_uri.$": run_uri(settings.curated_prefix, "train/"),
            "test_uri.$": run_uri(settings.curated_prefix, "test/"),
            "dataset_key.$": f"States.Format('{settings.curated_prefix}{{}}/{DATASET_MANIFEST}', "
            "$.run.id)",
            "challenger_report_uri.$": run_uri(settings.reports_prefix, "challenger/"),
            "champion_report_uri.$": run_uri(settings.reports_prefix, "champion/"),
            "challenger_report_key.$": f"States.Format('{settings.reports_prefix}{{}}/challenger/'"
            ", $.run.id)",
            "console_url.$": "States.Format('https://{}.console.aws.amazon.com/states/home?"
            f"region={{}}#/v2/executions/details/{{}}', {_REGION}, {_REGION}, $$.Execution.Id)",
        },
        "ResultPath": "$.run",
        "Next": "ListRunningRuns",
    }


def _guard_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """Two runs never overlap: the oldest RUNNING execution goes on, any other stops here.

    ListExecutions lists the newest first, so the last ARN is the oldest run. Two runs started
    together both see each other and only the older one goes on; a run is refused before it
    has created anything.
    """
    return {
        "ListRunningRuns": _aws(
            "arn:aws:states:::aws-sdk:sfn:listExecutions",
            {
                "StateMachineArn.$": "$$.StateMachine.Id",
                "StatusFilter": "RUNNING",
                "MaxResults": 100,
            },
            "AnotherRunActive?",
            result_selector={"running.$": "$.Executions[*].ExecutionArn"},
            result_path="$.guard",
            comment="Two runs never overlap: look for executions of this state machine.",
        ),
        "AnotherRunActive?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.guard.running[1]", "IsPresent": True, "Next": "FindOldestRun"}
            ],
            "Default": "Prepare",
        },
        "FindOldestRun": {
            "Type": "Pass",
            "Parameters": {
                "running.$": "$.guard.running",
                "oldest.$": "States.ArrayGetItem($.guard.running, "
                "States.MathAdd(States.ArrayLength($.guard.running), -1))",
            },
            "ResultPath": "$.guard",
            "Next": "OlderRunActive?",
        },
        "OlderRunActive?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.guard.oldest",
                    "StringEqualsPath": "$.run.execution",
                    "Next": "Prepare",
                }
            ],
            "Default": "NotifyAlreadyRunning",
        },
        "NotifyAlreadyRunning": _notify(
            f"prodcat {settings.name_prefix}: retraining run refused",
            "Run {} was not started: run {} is still in progress and two runs never overlap. "
            "Nothing was trained or deployed; start it again once that run has ended. "
            "Execution: {}",
            "$.run.id, $.guard.oldest, $.run.console_url",
            "AlreadyRunning",
        ),
        "AlreadyRunning": {
            "Type": "Succeed",
            "Comment": "Not a failure: the run in progress carries on (a Fail here would page "
            "on-call a second time through the PipelineFailed alarm).",
        },
    }


def _train_states(settings: PipelineDefinitionSettings, bucket: str) -> dict[str, State]:
    return {
        "Prepare": {
            "Type": "Task",
            "Comment": "Build this run's versioned training set (train/test by id, dataset.json).",
            "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
            "Parameters": _processing_job(
                settings,
                kind="prep",
                module="sagemaker_jobs.prepare",
                role="PrepareRoleArn",
                inputs=[_s3_input("raw", "$.run.raw_uri", PREPARE_INPUT)],
                outputs=[_s3_output("curated", "$.run.curated_uri", PREPARE_OUTPUT)],
                arguments=[
                    "--test-share",
                    str(settings.test_share),
                    "--validation-share",
                    str(settings.validation_share),
                    "--raw-prefix",
                    settings.raw_prefix,
                ],
            ),
            "ResultSelector": {"job_name.$": "$.ProcessingJobName"},
            "ResultPath": "$.prepare",
            "Retry": _job_retry(),
            "Catch": _catch(),
            "Next": "ReadDataset",
        },
        "ReadDataset": _aws(
            "arn:aws:states:::aws-sdk:s3:getObject",
            {"Bucket": bucket, "Key.$": "$.run.dataset_key"},
            "Train",
            result_selector={"manifest.$": "States.StringToJson($.Body)"},
            result_path="$.dataset",
            comment="The data version and code version of the training set, for the registry.",
        ),
        "Train": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": _job_name(settings, "train"),
                "RoleArn": _sub("TrainingRoleArn"),
                "AlgorithmSpecification": {
                    "TrainingImage": _sub("JobsImageUri"),
                    "TrainingInputMode": "File",
                    "ContainerEntrypoint": ["python", "-m", "sagemaker_jobs.train"],
                },
                "HyperParameters": dict(settings.hyperparameters),
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri.$": "$.run.train_uri",
                                "S3DataDistributionType": "FullyReplicated",
                            }
                        },
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/{settings.artifacts_prefix}"},
                "ResourceConfig": {
                    "InstanceCount": 1,
                    "InstanceType": settings.training.instance_type,
                    "VolumeSizeInGB": settings.training.volume_size_gb,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": settings.training.max_runtime_seconds},
                "RetryStrategy": {"MaximumRetryAttempts": max(settings.training_retry_attempts, 1)},
                "Environment": {
                    "PRODCAT_RUN_ID.$": "$.run.id",
                    "PRODCAT_CODE_VERSION": _sub("CodeVersion"),
                },
            },
            "ResultSelector": {
                "job_name.$": "$.TrainingJobName",
                "model_data_url.$": "$.ModelArtifacts.S3ModelArtifacts",
            },
            "ResultPath": "$.training",
            "Retry": _job_retry(),
            "Catch": _catch(),
            "Next": "LookupChampion",
        },
    }


def _evaluate_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    return {
        "LookupChampion": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:listModelPackages",
            {
                "ModelPackageGroupName": _sub("ModelPackageGroupName"),
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            "HasChampion",
            result_selector={"arns.$": "$.ModelPackageSummaryList[*].ModelPackageArn"},
            result_path="$.champion_lookup",
            comment="The champion is the newest Approved package: the model in production.",
        ),
        "HasChampion": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.champion_lookup.arns[0]",
                    "IsPresent": True,
                    "Next": "DescribeChampion",
                }
            ],
            "Default": "EvaluateFirstModel",
        },
        "DescribeChampion": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage",
            {"ModelPackageName.$": "$.champion_lookup.arns[0]"},
            "EvaluateBoth",
            result_selector={
                "arn.$": "$.ModelPackageArn",
                # Not `Containers[0].ModelDataUrl`: moto's JSONPath answers a list for a field
                # under an index; the intrinsic reads the same in both.
                "container.$": "States.ArrayGetItem($.InferenceSpecification.Containers, 0)",
            },
            result_path="$.champion",
        ),
        "EvaluateBoth": {
            "Type": "Parallel",
            "Comment": "Challenger and champion on the same test rows: the gate compares like "
            "with like.",
            "Branches": [
                {
                    "StartAt": "EvaluateChallenger",
                    "States": {
                        "EvaluateChallenger": _evaluate_state(
                            settings,
                            who="challenger",
                            model_path="$.training.model_data_url",
                            next_state=None,
                        )
                    },
                },
                {
                    "StartAt": "EvaluateChampion",
                    "States": {
                        "EvaluateChampion": _evaluate_state(
                            settings,
                            who="champion",
                            model_path="$.champion.container.ModelDataUrl",
                            next_state=None,
                        )
                    },
                },
            ],
            "ResultSelector": {
                "challenger_metrics_uri.$": "States.Format('{}metrics.json', "
                "$[0].run.challenger_report_uri)",
                "champion_metrics_uri.$": "States.Format('{}metrics.json', "
                "$[1].run.champion_report_uri)",
            },
            "ResultPath": "$.evaluation",
            "Catch": _catch(),
            "Next": "Gate",
        },
        "EvaluateFirstModel": {
            **_evaluate_state(
                settings,
                who="challenger",
                model_path="$.training.model_data_url",
                next_state="NoChampionToCompare",
            ),
            "Catch": _catch(),
        },
        "NoChampionToCompare": {
            "Type": "Pass",
            "Parameters": {
                "challenger_metrics_uri.$": "States.Format('{}metrics.json', "
                "$.run.challenger_report_uri)",
                "champion_metrics_uri": None,
            },
            "ResultPath": "$.evaluation",
            "Next": "Gate",
        },
        "Gate": {
            "Type": "Task",
            "Comment": "Promote only a challenger that beats the champion by the margin and "
            "clears the absolute floors.",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": _sub("GateFunctionArn"),
                "Payload": {
                    "challenger_metrics_uri.$": "$.evaluation.challenger_metrics_uri",
                    "champion_metrics_uri.$": "$.evaluation.champion_metrics_uri",
                    "policy": settings.gate.model_dump(),
                },
            },
            "ResultSelector": {"decision.$": "$.Payload"},
            "ResultPath": "$.gate",
            "Retry": _lambda_retry(),
            "Catch": _catch(),
            "Next": "Promote?",
        },
        "Promote?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.gate.decision.promote",
                    "BooleanEquals": True,
                    "Next": "RegisterCandidate",
                }
            ],
            "Default": "RegisterRejected",
        },
    }


def _register_state(status: str, next_state: str) -> State:
    return {
        "Type": "Task",
        "Comment": f"Record the challenger in the registry as {status}, with its metrics, drift "
        "baseline and lineage (data version, code version, run).",
        "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
        "Parameters": {
            "ModelPackageGroupName": _sub("ModelPackageGroupName"),
            "ModelPackageDescription.$": "States.Format('model {} trained by run {} on data "
            "version {}', $.gate.decision.challenger_version, $.run.id, "
            "$.dataset.manifest.data_version)",
            "ModelApprovalStatus": status,
            # A retried call after a lost response must not register the model twice.
            "ClientToken.$": "$.run.id",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": _sub("ServingImageUri"),
                        "ModelDataUrl.$": "$.training.model_data_url",
                    }
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri.$": "$.evaluation.challenger_metrics_uri",
                    }
                },
                "ModelDataQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri.$": "States.Format('{}baseline.json', $.run.challenger_report_uri)",
                    }
                },
            },
            "MetadataProperties": {
                "CommitId": _sub("CodeVersion"),
                "GeneratedBy.$": "$.run.execution",
            },
            "CustomerMetadataProperties": {
                "run_id.$": "$.run.id",
                "model_version.$": "$.gate.decision.challenger_version",
                "data_version.$": "$.dataset.manifest.data_version",
                "dataset.$": "$.run.curated_uri",
                "code_version": _sub("CodeVersion"),
                "training_job.$": "$.training.job_name",
                "execution.$": "$.run.execution",
                "gate.$": "States.Format('{} {} {} vs champion {}', $.gate.decision.mode, "
                "$.gate.decision.metric, $.gate.decision.challenger_score, "
                "$.gate.decision.champion_score)",
            },
        },
        "ResultSelector": {"arn.$": "$.ModelPackageArn"},
        "ResultPath": "$.registered",
        "Retry": _api_retry(),
        "Catch": _catch(),
        "Next": next_state,
    }


def _deploy_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    serverless: dict[str, Any] = {
        "MemorySizeInMB": settings.serverless.memory_size_mb,
        "MaxConcurrency": settings.serverless.max_concurrency,
    }
    if settings.serverless.provisioned_concurrency is not None:
        serverless["ProvisionedConcurrency"] = settings.serverless.provisioned_concurrency
    endpoint = settings.endpoint_name
    return {
        # Pending until it serves and passes the smoke test (ApproveChallenger).
        "RegisterCandidate": _register_state("PendingManualApproval", "CreateModel"),
        "CreateModel": _aws(
            "arn:aws:states:::sagemaker:createModel",
            {
                "ModelName.$": "$.run.endpoint_config_name",
                "ExecutionRoleArn": _sub("ModelRoleArn"),
                # The package's container, spelled out: a model made from a package that
                # is not yet Approved would depend on how SageMaker treats that status.
                "PrimaryContainer": {
                    "Image": _sub("ServingImageUri"),
                    "ModelDataUrl.$": "$.training.model_data_url",
                    "Environment": {"PRODCAT_MODEL_PACKAGE.$": "$.registered.arn"},
                },
            },
            "CreateEndpointConfig",
            result_selector={"arn.$": "$.ModelArn"},
            result_path="$.model",
        ),
        "CreateEndpointConfig": _aws(
            "arn:aws:states:::sagemaker:createEndpointConfig",
            {
                "EndpointConfigName.$": "$.run.endpoint_config_name",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName.$": "$.run.endpoint_config_name",
                        "ServerlessConfig": serverless,
                    }
                ],
            },
            "FindEndpoint",
            result_selector={"arn.$": "$.EndpointConfigArn"},
            result_path="$.endpoint_config",
        ),
        "FindEndpoint": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:listEndpoints",
            {"NameContains": endpoint, "MaxResults": 10},
            "EndpointExists?",
            result_selector={"names.$": "$.Endpoints[*].EndpointName"},
            result_path="$.existing",
            comment="The first deploy creates the endpoint; later ones update it in place.",
        ),
        "EndpointExists?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.existing.names[0]",
                    "IsPresent": True,
                    "Next": "RememberPreviousConfig",
                }
            ],
            "Default": "NoPreviousEndpoint",
        },
        "RememberPreviousConfig": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            {"EndpointName": endpoint},
            "UpdateEndpoint",
            result_selector={"endpoint_config_name.$": "$.EndpointConfigName"},
            result_path="$.previous",
            comment="Kept in the execution for rolling back to the config that served before.",
        ),
        "NoPreviousEndpoint": {
            "Type": "Pass",
            "Parameters": {"endpoint_config_name": None},
            "ResultPath": "$.previous",
            "Next": "CreateEndpoint",
        },
        "CreateEndpoint": _aws(
            "arn:aws:states:::sagemaker:createEndpoint",
            {"EndpointName": endpoint, "EndpointConfigName.$": "$.run.endpoint_config_name"},
            "WaitForEndpoint",
        ),
        # The SDK integration (not the optimized `sagemaker:updateEndpoint`): it passes the
        # whole UpdateEndpoint request, DeploymentConfig included.
        "UpdateEndpoint": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",
            {
                "EndpointName": endpoint,
                "EndpointConfigName.$": "$.run.endpoint_config_name",
                # Blue/green, all at once (serverless endpoints take no rolling update):
                # the old fleet serves until the new one is healthy, then through the bake
                # time, during which any of these alarms rolls SageMaker back by itself.
                "DeploymentConfig": {
                    "BlueGreenUpdatePolicy": {
                        "TrafficRoutingConfiguration": {
                            "Type": "ALL_AT_ONCE",
                            "WaitIntervalInSeconds": 0,
                        },
                        "TerminationWaitInSeconds": settings.deploy.bake_seconds,
                        "MaximumExecutionTimeoutInSeconds": settings.deploy.timeout_seconds,
                    },
                    "AutoRollbackConfiguration": {
                        "Alarms": [{"AlarmName": n} for n in settings.deploy.rollback_alarm_names]
                    },
                },
            },
            "WaitForEndpoint",
            comment="SageMaker keeps the old model serving until the new one is healthy.",
        ),
        "WaitForEndpoint": {
            "Type": "Wait",
            "Seconds": settings.endpoint_poll_seconds,
            "Next": "DescribeEndpoint",
        },
        "DescribeEndpoint": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            {"EndpointName": endpoint},
            "EndpointReady?",
            result_selector={
                "status.$": "$.EndpointStatus",
                "endpoint_config_name.$": "$.EndpointConfigName",
            },
            result_path="$.endpoint",
        ),
        "EndpointReady?": {
            "Type": "Choice",
            "Choices": [
                {**_endpoint_broken(), "Next": "DeployFailed"},
                {
                    # InService on another config: SageMaker rolled the update back (an
                    # alarm fired during the bake, or the new fleet never became healthy).
                    "And": [
                        _endpoint_is("InService"),
                        {
                            "Not": {
                                "Variable": "$.endpoint.endpoint_config_name",
                                "StringEqualsPath": "$.run.endpoint_config_name",
                            }
                        },
                    ],
                    "Next": "RolledBackBySageMaker",
                },
                {**_endpoint_is("InService"), "Next": "SmokeTest"},
            ],
            "Default": "WaitForEndpoint",
        },
        "DeployFailed": _failure(
            "EndpointDeployFailed",
            f"endpoint {endpoint} is {{}} on config {{}}",
            "$.endpoint.status, $.endpoint.endpoint_config_name",
            "RejectChallenger",
        ),
        "RolledBackBySageMaker": _failure(
            "EndpointRolledBack",
            f"SageMaker rolled endpoint {endpoint} back to config {{}} (an auto-rollback alarm "
            f"of {', '.join(settings.deploy.rollback_alarm_names)} fired, or the new fleet was "
            "not healthy)",
            "$.endpoint.endpoint_config_name",
            "RejectChallenger",
        ),
        "SmokeTest": {
            "Type": "Task",
            "Comment": "Known listings through the endpoint: shape, model version, top-1 in top-k.",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": _sub("SmokeFunctionArn"),
                "Payload": {
                    "endpoint_name": endpoint,
                    "cases_uri.$": f"States.Format('{{}}{SMOKE_CASES}', "
                    "$.run.challenger_report_uri)",
                    "expected_model_version.$": "$.gate.decision.challenger_version",
                },
            },
            "ResultSelector": {"result.$": "$.Payload"},
            "ResultPath": "$.smoke",
            "Retry": _lambda_retry(),
            # A smoke test that cannot run has not passed: roll back as for a failure.
            "Catch": _catch("RejectChallenger"),
            "Next": "SmokePassed?",
        },
        "SmokePassed?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.smoke.result.passed",
                    "BooleanEquals": True,
                    "Next": "ApproveChallenger",
                }
            ],
            "Default": "SmokeFailed",
        },
        "SmokeFailed": _failure(
            "SmokeTestFailed",
            "{} of {} known listings failed: {}",
            "States.ArrayLength($.smoke.result.failures), $.smoke.result.checked, "
            "States.JsonToString($.smoke.result.failures)",
            "RejectChallenger",
        ),
        **_rollback_states(settings),
        **_publish_states(settings),
    }


def _rollback_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    endpoint = settings.endpoint_name
    previous_known = {"Variable": "$.previous.endpoint_config_name", "IsNull": False}
    return {
        "RejectChallenger": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage",
            {
                "ModelPackageArn.$": "$.registered.arn",
                "ModelApprovalStatus": "Rejected",
                "ApprovalDescription.$": "States.Format('Not deployed by run {}: {}', $.run.id, "
                "$.error.Error)",
            },
            "RestorePrevious?",
            comment="Never the champion of a later run: it did not serve.",
        ),
        "RestorePrevious?": {
            "Type": "Choice",
            "Choices": [
                {
                    # SageMaker already put the previous config back in service.
                    "And": [
                        previous_known,
                        _endpoint_is("InService"),
                        {
                            "Variable": "$.endpoint.endpoint_config_name",
                            "StringEqualsPath": "$.previous.endpoint_config_name",
                        },
                    ],
                    "Next": "NotifyRolledBack",
                },
                {**previous_known, "Next": "RestorePreviousConfig"},
            ],
            # The first deploy created the endpoint: nothing to go back to, and a model that
            # failed its smoke test must not answer (the API says 503 until an endpoint serves).
            "Default": "DeleteEndpoint",
        },
        "RestorePreviousConfig": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",
            {"EndpointName": endpoint, "EndpointConfigName.$": "$.previous.endpoint_config_name"},
            "WaitForRestore",
            comment="Back to the config that served before this run (known good: no bake).",
        ),
        "WaitForRestore": {
            "Type": "Wait",
            "Seconds": settings.endpoint_poll_seconds,
            "Next": "DescribeRestoredEndpoint",
        },
        "DescribeRestoredEndpoint": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            {"EndpointName": endpoint},
            "Restored?",
            result_selector={
                "status.$": "$.EndpointStatus",
                "endpoint_config_name.$": "$.EndpointConfigName",
            },
            result_path="$.endpoint",
        ),
        "Restored?": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        _endpoint_is("InService"),
                        {
                            "Variable": "$.endpoint.endpoint_config_name",
                            "StringEqualsPath": "$.previous.endpoint_config_name",
                        },
                    ],
                    "Next": "NotifyRolledBack",
                },
                {
                    "Or": [*_endpoint_broken()["Or"], _endpoint_is("InService")],
                    "Next": "RestoreFailed",
                },
            ],
            "Default": "WaitForRestore",
        },
        "RestoreFailed": {
            "Type": "Pass",
            "Parameters": {
                "Error": "RollbackFailed",
                "Cause.$": f"States.Format('rolling endpoint {endpoint} back to config {{}} "
                "after {} left it {} on config {}', $.previous.endpoint_config_name, "
                "$.error.Error, $.endpoint.status, $.endpoint.endpoint_config_name)",
            },
            "ResultPath": "$.error",
            "Next": "NotifyFailure",
        },
        "DeleteEndpoint": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint",
            {"EndpointName": endpoint},
            "NotifyRolledBack",
        ),
        "NotifyRolledBack": _notify(
            f"prodcat {settings.name_prefix}: deploy rolled back",
            f"Run {{}} did not deploy model {{}}: {{}}: {{}}. Endpoint {endpoint} is back on "
            "config {} (null: it was the first deploy, the endpoint is deleted). Package {} is "
            "Rejected. Reports: {}. Execution: {}",
            "$.run.id, $.gate.decision.challenger_version, $.error.Error, $.error.Cause, "
            "$.previous.endpoint_config_name, $.registered.arn, $.run.challenger_report_uri, "
            "$.run.console_url",
            "RolledBack",
        ),
        "RolledBack": {
            "Type": "Fail",
            "Error": "DeployRolledBack",
            "Cause": "The new model failed its deploy or smoke test; the endpoint was restored "
            "and the on-call topic has the details.",
        },
    }


def _publish_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    bucket = _sub("DataLakeBucket")

    def copy(name: str, key: str, next_state: str) -> State:
        return _aws(
            "arn:aws:states:::aws-sdk:s3:copyObject",
            {
                "Bucket": bucket,
                "Key": key,
                "CopySource.$": f"States.Format('{bucket}/{{}}{name}', $.run.challenger_report_key)",
            },
            next_state,
        )

    return {
        "ApproveChallenger": _aws(
            "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage",
            {
                "ModelPackageArn.$": "$.registered.arn",
                "ModelApprovalStatus": "Approved",
                "ApprovalDescription.$": f"States.Format('Serving on {settings.endpoint_name} "
                "since run {}; smoke test passed on {} known listings', $.run.id, "
                "$.smoke.result.checked)",
            },
            "PublishProductionMetrics",
            comment="Approved = in production: the next run's champion.",
        ),
        "PublishProductionMetrics": {
            **copy("metrics.json", PRODUCTION_METRICS_KEY, "PublishProductionBaseline"),
            "Comment": "The production model's reports at fixed keys (the drift job reads them).",
        },
        "PublishProductionBaseline": copy(
            "baseline.json",
            PRODUCTION_BASELINE_KEY,
            "PlanReclassify" if settings.reclassify else "NotifyDeployed",
        ),
        **(_reclassify_states(settings, settings.reclassify) if settings.reclassify else {}),
        "NotifyDeployed": _notify(
            f"prodcat {settings.name_prefix}: new model in service",
            f"Run {{}} deployed model {{}} to endpoint {settings.endpoint_name} (package {{}}, "
            "data version {}). Gate: {}. Smoke test: {} known listings passed. Reports: {}; "
            f"production metrics: s3://{bucket}/{PRODUCTION_METRICS_KEY}. Execution: {{}}",
            "$.run.id, $.gate.decision.challenger_version, $.registered.arn, "
            "$.dataset.manifest.data_version, States.JsonToString($.gate.decision.reasons), "
            "$.smoke.result.checked, $.run.challenger_report_uri, $.run.console_url",
            "Deployed",
        ),
        "Deployed": {"Type": "Succeed"},
    }


def _reclassify_states(
    settings: PipelineDefinitionSettings, reclassify: ReclassifySettings
) -> dict[str, State]:
    """The catalogue (raw zone) -> JSON Lines -> a Batch Transform of the model just deployed ->
    models/predictions/<model version>/output/. Its own role (CatalogueRoleArn: reads the raw
    zone, writes the predictions) runs both jobs and the transform's model, so the endpoint's
    role stays as narrow as serving needs. A failure here leaves the deploy in place and pages."""
    bucket = _sub("DataLakeBucket")
    predictions = f"s3://{bucket}/{settings.predictions_prefix}{{}}/"
    version = "$.gate.decision.challenger_version"
    transform = transform_request(
        name="",
        model_name="",
        input_uri="",
        output_uri="",
        photo_bucket=bucket,
        photo_prefix=settings.raw_prefix,
        instance_type=reclassify.instance_type,
        instance_count=reclassify.instance_count,
    )
    for member in ("TransformJobName", "ModelName"):
        del transform[member]
    transform["TransformInput"]["DataSource"]["S3DataSource"] = {
        "S3DataType": "S3Prefix",
        "S3Uri.$": "$.reclassify.input_uri",
    }
    del transform["TransformOutput"]["S3OutputPath"]
    transform["TransformOutput"]["S3OutputPath.$"] = "$.reclassify.output_uri"
    catch = _catch("NotifyReclassifyFailed")
    return {
        "PlanReclassify": {
            "Type": "Pass",
            "Parameters": {
                "input_uri.$": f"States.Format('{predictions}input/', {version})",
                "output_uri.$": f"States.Format('{predictions}output/', {version})",
                "model_name.$": f"States.Format('{settings.name_prefix}-batch-{{}}', "
                "$.run.short_id)",
            },
            "ResultPath": "$.reclassify",
            "Next": "WriteCatalogue",
        },
        "WriteCatalogue": {
            "Type": "Task",
            "Comment": "The catalogue (base data and admin products, minus deleted ones) as "
            "JSON Lines, photos named by their raw-zone keys.",
            "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
            "Parameters": _processing_job(
                settings,
                kind="catal",
                module="sagemaker_jobs.catalogue",
                role="CatalogueRoleArn",
                inputs=[_s3_input("raw", "$.run.raw_uri", PREPARE_INPUT)],
                outputs=[_s3_output("catalogue", "$.reclassify.input_uri", PREPARE_OUTPUT)],
                arguments=["--raw-prefix", settings.raw_prefix],
            ),
            "ResultSelector": {"job_name.$": "$.ProcessingJobName"},
            "ResultPath": "$.reclassify_catalogue",
            "Retry": _job_retry(),
            "Catch": catch,
            "Next": "CreateBatchModel",
        },
        "CreateBatchModel": _aws(
            "arn:aws:states:::sagemaker:createModel",
            {
                "ModelName.$": "$.reclassify.model_name",
                "ExecutionRoleArn": _sub("CatalogueRoleArn"),
                "PrimaryContainer": {
                    "Image": _sub("ServingImageUri"),
                    "ModelDataUrl.$": "$.training.model_data_url",
                },
            },
            "ReclassifyCatalogue",
            result_selector={"arn.$": "$.ModelArn"},
            result_path="$.batch_model",
            catch_into="NotifyReclassifyFailed",
            comment="The deployed model's artifact and image, with the catalogue role.",
        ),
        "ReclassifyCatalogue": {
            "Type": "Task",
            "Comment": "One answer line per catalogue line (inference/batch.py), in order.",
            "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": {
                "TransformJobName.$": _job_name(settings, "batch"),
                "ModelName.$": "$.reclassify.model_name",
                **transform,
            },
            "ResultSelector": {"job_name.$": "$.TransformJobName"},
            "ResultPath": "$.reclassify_transform",
            "Retry": _job_retry(),
            "Catch": catch,
            "Next": "NotifyDeployed",
        },
        "NotifyReclassifyFailed": _notify(
            f"prodcat {settings.name_prefix}: catalogue not reclassified",
            "Run {} deployed model {}, which serves; reclassifying the catalogue with it "
            "failed: {}: {}. Predictions: {}. Execution: {}",
            "$.run.id, $.gate.decision.challenger_version, $.error.Error, $.error.Cause, "
            "$.reclassify.output_uri, $.run.console_url",
            "ReclassifyFailed",
        ),
        "ReclassifyFailed": {
            "Type": "Fail",
            "Error": "ReclassifyFailed",
            "Cause": "The new model serves, but the catalogue was not reclassified with it; the "
            "on-call topic has the details.",
        },
    }


def build_definition(settings: PipelineDefinitionSettings) -> dict[str, Any]:
    """Return the state machine definition (ASL, JSONPath) for these settings."""
    bucket = _sub("DataLakeBucket")
    states: dict[str, State] = {
        "NameRun": {
            "Type": "Pass",
            "Comment": "One id per run: names every job, data version and model of this run.",
            "Parameters": {"id.$": "States.UUID()"},
            "ResultPath": "$.run",
            "Next": "PlanRun",
        },
        "PlanRun": _run_plan(settings, bucket),
        **_guard_states(settings),
        **_train_states(settings, bucket),
        **_evaluate_states(settings),
        "RegisterRejected": _register_state("Rejected", "NotifyRejected"),
        "NotifyRejected": _notify(
            f"prodcat {settings.name_prefix}: challenger rejected",
            "Run {} trained model {} that does not replace production: {}. Registered as "
            "Rejected: {}. Reports: {}. Execution: {}",
            "$.run.id, $.gate.decision.challenger_version, "
            "States.JsonToString($.gate.decision.reasons), $.registered.arn, "
            "$.run.challenger_report_uri, $.run.console_url",
            "NotPromoted",
        ),
        "NotPromoted": {"Type": "Succeed", "Comment": "Production keeps its model."},
        **_deploy_states(settings),
        "NotifyFailure": {
            **_notify(
                f"prodcat {settings.name_prefix}: pipeline failed",
                "Run {} failed: {}: {}. Training set: {}; reports: {}. Execution: {}",
                "$.run.id, $.error.Error, $.error.Cause, $.run.curated_uri, "
                "$.run.challenger_report_uri, $.run.console_url",
                "PipelineFailed",
            ),
            "Retry": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "IntervalSeconds": 5,
                    "MaxAttempts": 4,
                    "BackoffRate": 2.0,
                    "JitterStrategy": "FULL",
                }
            ],
        },
        "PipelineFailed": {
            "Type": "Fail",
            "Error": "PipelineFailed",
            "Cause": "A step failed; the on-call topic has the error.",
        },
    }
    return {
        "Comment": f"prodcat {settings.name_prefix}: retrain -> evaluate -> gate -> register -> "
        "deploy",
        "StartAt": "NameRun",
        "States": states,
    }
