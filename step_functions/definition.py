"""The retrain -> evaluate -> gate -> register -> deploy state machine, as plain ASL (JSONPath).

Pure Python, no CDK: the pipeline construct renders it with `json.dumps` and fills the
``${Placeholder}`` names in `PLACEHOLDERS` with deploy-time values (bucket, roles, images,
function and topic ARNs) through CloudFormation definition substitutions; tests (asl-validator,
moto's interpreter) use the same dict. Static settings (instance types, serverless memory,
gate policy) are rendered in from `PipelineDefinitionSettings`.

Flow: NameRun -> PlanRun -> Prepare (processing) -> Train (training) -> LookupChampion ->
[Evaluate challenger, and the champion on the *same* test set when one exists] -> Gate (Lambda)
-> Register (Model Package Group, Approved/Rejected) -> CreateModel -> CreateEndpointConfig
(serverless) -> Create or Update the endpoint -> wait until InService -> notify.
Every SageMaker task retries with backoff and catches into NotifyFailure (SNS) -> Fail.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
    "ModelPackageGroupName",
    "GateFunctionArn",
    "OnCallTopicArn",
)

# Container paths: the SageMaker contract that sagemaker_jobs/ implements.
PREPARE_INPUT = "/opt/ml/processing/input"
PREPARE_OUTPUT = "/opt/ml/processing/output"
EVALUATE_MODEL = "/opt/ml/processing/model"
EVALUATE_TEST = "/opt/ml/processing/test"
EVALUATE_OUTPUT = "/opt/ml/processing/evaluation"

# 8 + 12 hex digits of the run's UUID: unique per run, short enough for SageMaker's 63-char
# names with a prefix, a kind and the retry count.
_SHORT_ID = (
    "States.Format('{}{}', States.ArrayGetItem(States.StringSplit($.run.id, '-'), 0), "
    "States.ArrayGetItem(States.StringSplit($.run.id, '-'), 4))"
)


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


class GatePolicy(BaseModel):
    """Passed verbatim to the gate Lambda (lambdas/pipeline/gate.py reads the same fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: str
    metric: str
    margin: float
    min_accuracy: float
    max_ece: float


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
    training_retry_attempts: int = Field(default=2, ge=0, le=30)
    endpoint_poll_seconds: int = Field(default=60, ge=5)


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


def _catch() -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]


def _job_name(settings: PipelineDefinitionSettings, kind: str) -> str:
    # <= 63 chars: prefix (<= 21) + kind (<= 5) + short id (20) + retry count.
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
) -> dict[str, Any]:
    return {
        "ProcessingJobName.$": _job_name(settings, kind),
        "RoleArn": _sub(role),
        "AppSpecification": {
            "ImageUri": _sub("JobsImageUri"),
            "ContainerEntrypoint": ["python", "-m", module],
        },
        "Environment": {"PRODCAT_RUN_ID.$": "$.run.id"},
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
    state: State = {
        "Type": "Task",
        "Comment": f"Evaluate the {who} on this run's test split (metrics.json, baseline.json).",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": _processing_job(
            settings,
            kind="ev" + who[:3],
            module="sagemaker_jobs.evaluate",
            role="EvaluateRoleArn",
            inputs=[
                _s3_input("model", model_path, EVALUATE_MODEL),
                _s3_input("test", "$.run.test_uri", EVALUATE_TEST),
            ],
            outputs=[_s3_output("evaluation", reports, EVALUATE_OUTPUT)],
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


def build_definition(settings: PipelineDefinitionSettings) -> dict[str, Any]:
    """Return the state machine definition (ASL, JSONPath) for these settings."""
    bucket = _sub("DataLakeBucket")
    serverless: dict[str, Any] = {
        "MemorySizeInMB": settings.serverless.memory_size_mb,
        "MaxConcurrency": settings.serverless.max_concurrency,
    }
    if settings.serverless.provisioned_concurrency is not None:
        serverless["ProvisionedConcurrency"] = settings.serverless.provisioned_concurrency

    states: dict[str, State] = {
        "NameRun": {
            "Type": "Pass",
            "Comment": "One id per run: names every job, data version and model of this run.",
            "Parameters": {"id.$": "States.UUID()", "execution.$": "$$.Execution.Id"},
            "ResultPath": "$.run",
            "Next": "PlanRun",
        },
        "PlanRun": {
            "Type": "Pass",
            "Parameters": {
                "id.$": "$.run.id",
                "short_id.$": _SHORT_ID,
                "endpoint_config_name.$": f"States.Format('{settings.name_prefix}-{{}}', "
                f"{_SHORT_ID})",
                "raw_uri": f"s3://{bucket}/{settings.raw_prefix}",
                "curated_uri.$": f"States.Format('s3://{bucket}/{settings.curated_prefix}{{}}/', "
                "$.run.id)",
                "train_uri.$": f"States.Format('s3://{bucket}/{settings.curated_prefix}{{}}/train/'"
                ", $.run.id)",
                "test_uri.$": f"States.Format('s3://{bucket}/{settings.curated_prefix}{{}}/test/', "
                "$.run.id)",
                "challenger_report_uri.$": f"States.Format('s3://{bucket}/"
                f"{settings.reports_prefix}{{}}/challenger/', $.run.id)",
                "champion_report_uri.$": f"States.Format('s3://{bucket}/"
                f"{settings.reports_prefix}{{}}/champion/', $.run.id)",
            },
            "ResultPath": "$.run",
            "Next": "Prepare",
        },
        "Prepare": {
            "Type": "Task",
            "Comment": "Build this run's versioned training set (train/validation/test by id).",
            "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
            "Parameters": _processing_job(
                settings,
                kind="prep",
                module="sagemaker_jobs.prepare",
                role="PrepareRoleArn",
                inputs=[_s3_input("raw", "$.run.raw_uri", PREPARE_INPUT)],
                outputs=[_s3_output("curated", "$.run.curated_uri", PREPARE_OUTPUT)],
            ),
            "ResultSelector": {"job_name.$": "$.ProcessingJobName"},
            "ResultPath": "$.prepare",
            "Retry": _job_retry(),
            "Catch": _catch(),
            "Next": "Train",
        },
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
                "Environment": {"PRODCAT_RUN_ID.$": "$.run.id"},
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
        "LookupChampion": {
            "Type": "Task",
            "Comment": "The champion is the newest Approved package in the group, if any.",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:listModelPackages",
            "Parameters": {
                "ModelPackageGroupName": _sub("ModelPackageGroupName"),
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            "ResultSelector": {"packages.$": "$.ModelPackageSummaryList"},
            "ResultPath": "$.champion_lookup",
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "HasChampion",
        },
        "HasChampion": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.champion_lookup.packages[0]",
                    "IsPresent": True,
                    "Next": "DescribeChampion",
                }
            ],
            "Default": "EvaluateFirstModel",
        },
        "DescribeChampion": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage",
            "Parameters": {"ModelPackageName.$": "$.champion_lookup.packages[0].ModelPackageArn"},
            "ResultSelector": {
                "arn.$": "$.ModelPackageArn",
                "model_data_url.$": "$.InferenceSpecification.Containers[0].ModelDataUrl",
            },
            "ResultPath": "$.champion",
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "EvaluateBoth",
        },
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
                            model_path="$.champion.model_data_url",
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
            "Retry": [
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
            ],
            "Catch": _catch(),
            "Next": "Promote?",
        },
        "Promote?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.gate.decision.promote",
                    "BooleanEquals": True,
                    "Next": "RegisterApproved",
                }
            ],
            "Default": "RegisterRejected",
        },
        "RegisterApproved": _register_state("Approved", "CreateModel"),
        "RegisterRejected": _register_state("Rejected", "NotifyRejected"),
        "NotifyRejected": _notify(
            f"prodcat {settings.name_prefix}: challenger rejected",
            "Run {} ({}) trained a model that did not beat production: {}. "
            "Registered as Rejected: {}",
            "$.run.id, $$.Execution.Id, States.JsonToString($.gate.decision.reasons), "
            "$.registered.arn",
            "NotPromoted",
        ),
        "NotPromoted": {"Type": "Succeed", "Comment": "Production keeps its model."},
        "CreateModel": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createModel",
            "Parameters": {
                "ModelName.$": f"States.Format('{settings.name_prefix}-{{}}', $.run.short_id)",
                "ExecutionRoleArn": _sub("ModelRoleArn"),
                "PrimaryContainer": {"ModelPackageName.$": "$.registered.arn"},
            },
            "ResultSelector": {"arn.$": "$.ModelArn"},
            "ResultPath": "$.model",
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "CreateEndpointConfig",
        },
        "CreateEndpointConfig": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createEndpointConfig",
            "Parameters": {
                "EndpointConfigName.$": f"States.Format('{settings.name_prefix}-{{}}', "
                "$.run.short_id)",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName.$": f"States.Format('{settings.name_prefix}-{{}}', "
                        "$.run.short_id)",
                        "ServerlessConfig": serverless,
                    }
                ],
            },
            "ResultSelector": {"arn.$": "$.EndpointConfigArn"},
            "ResultPath": "$.endpoint_config",
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "FindEndpoint",
        },
        "FindEndpoint": {
            "Type": "Task",
            "Comment": "The first deploy creates the endpoint; later ones update it in place.",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:listEndpoints",
            "Parameters": {"NameContains": settings.endpoint_name, "MaxResults": 10},
            "ResultSelector": {"endpoints.$": "$.Endpoints"},
            "ResultPath": "$.existing",
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "EndpointExists?",
        },
        "EndpointExists?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.existing.endpoints[0]",
                    "IsPresent": True,
                    "Next": "RememberPreviousConfig",
                }
            ],
            "Default": "CreateEndpoint",
        },
        "RememberPreviousConfig": {
            "Type": "Task",
            "Comment": "Kept in the execution for rolling back to the config that served before.",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            "Parameters": {"EndpointName": settings.endpoint_name},
            "ResultSelector": {"endpoint_config_name.$": "$.EndpointConfigName"},
            "ResultPath": "$.previous",
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "UpdateEndpoint",
        },
        "CreateEndpoint": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createEndpoint",
            "Parameters": {
                "EndpointName": settings.endpoint_name,
                "EndpointConfigName.$": f"States.Format('{settings.name_prefix}-{{}}', "
                "$.run.short_id)",
            },
            "ResultPath": None,
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "WaitForEndpoint",
        },
        "UpdateEndpoint": {
            "Type": "Task",
            "Comment": "SageMaker keeps the old model serving until the new one is healthy.",
            "Resource": "arn:aws:states:::sagemaker:updateEndpoint",
            "Parameters": {
                "EndpointName": settings.endpoint_name,
                "EndpointConfigName.$": f"States.Format('{settings.name_prefix}-{{}}', "
                "$.run.short_id)",
            },
            "ResultPath": None,
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "WaitForEndpoint",
        },
        "WaitForEndpoint": {
            "Type": "Wait",
            "Seconds": settings.endpoint_poll_seconds,
            "Next": "DescribeEndpoint",
        },
        "DescribeEndpoint": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            "Parameters": {"EndpointName": settings.endpoint_name},
            "ResultSelector": {
                "status.$": "$.EndpointStatus",
                "endpoint_config_name.$": "$.EndpointConfigName",
            },
            "ResultPath": "$.endpoint",
            "Retry": _api_retry(),
            "Catch": _catch(),
            "Next": "EndpointReady?",
        },
        "EndpointReady?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.endpoint.status",
                    "StringEquals": "Failed",
                    "Next": "DeployFailed",
                },
                {
                    # InService on another config means SageMaker rolled the update back.
                    "And": [
                        {"Variable": "$.endpoint.status", "StringEquals": "InService"},
                        {
                            "Not": {
                                "Variable": "$.endpoint.endpoint_config_name",
                                "StringEqualsPath": "$.run.endpoint_config_name",
                            }
                        },
                    ],
                    "Next": "DeployFailed",
                },
                {
                    "Variable": "$.endpoint.status",
                    "StringEquals": "InService",
                    "Next": "NotifyDeployed",
                },
            ],
            "Default": "WaitForEndpoint",
        },
        "DeployFailed": {
            "Type": "Pass",
            "Parameters": {
                "Error": "EndpointDeployFailed",
                "Cause.$": "States.Format('endpoint status {} on config {}', $.endpoint.status, "
                "$.endpoint.endpoint_config_name)",
            },
            "ResultPath": "$.error",
            "Next": "NotifyFailure",
        },
        "NotifyDeployed": _notify(
            f"prodcat {settings.name_prefix}: new model in service",
            f"Run {{}} ({{}}) deployed {{}} to endpoint {settings.endpoint_name} (gate: {{}}).",
            "$.run.id, $$.Execution.Id, $.registered.arn, States.JsonToString($.gate.decision)",
            "Deployed",
        ),
        "Deployed": {"Type": "Succeed"},
        "NotifyFailure": {
            **_notify(
                f"prodcat {settings.name_prefix}: pipeline failed",
                "Execution {} failed: {}: {}",
                "$$.Execution.Id, $.error.Error, $.error.Cause",
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


def _register_state(status: str, next_state: str) -> State:
    return {
        "Type": "Task",
        "Comment": f"Record the challenger in the registry as {status}, with metrics and lineage.",
        "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
        "Parameters": {
            "ModelPackageGroupName": _sub("ModelPackageGroupName"),
            "ModelPackageDescription.$": "States.Format('run {} training job {}', $.run.id, "
            "$.training.job_name)",
            "ModelApprovalStatus": status,
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
                }
            },
            "CustomerMetadataProperties": {
                "run_id.$": "$.run.id",
                "data_version.$": "$.run.curated_uri",
                "training_job.$": "$.training.job_name",
                "execution.$": "$$.Execution.Id",
            },
        },
        "ResultSelector": {"arn.$": "$.ModelPackageArn"},
        "ResultPath": "$.registered",
        "Retry": _api_retry(),
        "Catch": _catch(),
        "Next": next_state,
    }
