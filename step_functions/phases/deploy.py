"""Register and deploy a promoted challenger: RegisterCandidate (PendingManualApproval) ->
CreateModel -> CreateEndpointConfig -> CreateEndpoint, or RememberPreviousConfig ->
UpdateEndpoint (blue/green, auto-rollback alarms) -> wait until InService -> SmokeTest
(phases/smoke.py); a deploy that fails, or that SageMaker rolls back -> RejectChallenger
(phases/rollback.py)."""

from __future__ import annotations

from typing import Any

from step_functions.asl import State, aws_call, failure
from step_functions.phases.register import register_state
from step_functions.phases.tasks import describe_endpoint, endpoint_broken, endpoint_is
from step_functions.settings import PipelineDefinitionSettings, sub


def deploy_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    return {
        # Pending until it serves and passes the smoke test (ApproveChallenger).
        "RegisterCandidate": register_state("PendingManualApproval", "CreateModel"),
        **_model_and_config_states(settings),
        **_create_or_update_states(settings),
        **_wait_in_service_states(settings),
    }


def _serverless_config(settings: PipelineDefinitionSettings) -> dict[str, Any]:
    serverless: dict[str, Any] = {
        "MemorySizeInMB": settings.serverless.memory_size_mb,
        "MaxConcurrency": settings.serverless.max_concurrency,
    }
    if settings.serverless.provisioned_concurrency is not None:
        serverless["ProvisionedConcurrency"] = settings.serverless.provisioned_concurrency
    return serverless


def _model_and_config_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """CreateModel and CreateEndpointConfig, both named after the run."""
    return {
        "CreateModel": aws_call(
            "arn:aws:states:::sagemaker:createModel",
            {
                "ModelName.$": "$.run.endpoint_config_name",
                "ExecutionRoleArn": sub("ModelRoleArn"),
                # The package's container, spelled out: a model made from a package that
                # is not yet Approved would depend on how SageMaker treats that status.
                "PrimaryContainer": {
                    "Image": sub("ServingImageUri"),
                    "ModelDataUrl.$": "$.training.model_data_url",
                    "Environment": {"PRODCAT_MODEL_PACKAGE.$": "$.registered.arn"},
                },
            },
            "CreateEndpointConfig",
            result_selector={"arn.$": "$.ModelArn"},
            result_path="$.model",
        ),
        "CreateEndpointConfig": aws_call(
            "arn:aws:states:::sagemaker:createEndpointConfig",
            {
                "EndpointConfigName.$": "$.run.endpoint_config_name",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName.$": "$.run.endpoint_config_name",
                        "ServerlessConfig": _serverless_config(settings),
                    }
                ],
            },
            "FindEndpoint",
            result_selector={"arn.$": "$.EndpointConfigArn"},
            result_path="$.endpoint_config",
        ),
    }


def _blue_green(settings: PipelineDefinitionSettings) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: blue/green, all at once (serverless endpoints take no
    rolling update). The old fleet serves until the new one is healthy, then through the bake
    time, during which any of these alarms rolls SageMaker back by itself."""
    return {
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
    }


def _create_or_update_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """The first deploy creates the endpoint; later ones remember the config that served and
    update the endpoint in place."""
    endpoint = settings.endpoint_name
    return {
        "FindEndpoint": aws_call(
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
        "RememberPreviousConfig": aws_call(
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
        "CreateEndpoint": aws_call(
            "arn:aws:states:::sagemaker:createEndpoint",
            {"EndpointName": endpoint, "EndpointConfigName.$": "$.run.endpoint_config_name"},
            "WaitForEndpoint",
        ),
        # The SDK integration (not the optimized `sagemaker:updateEndpoint`): it passes the
        # whole UpdateEndpoint request, DeploymentConfig included.
        "UpdateEndpoint": aws_call(
            "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",
            {
                "EndpointName": endpoint,
                "EndpointConfigName.$": "$.run.endpoint_config_name",
                "DeploymentConfig": _blue_green(settings),
            },
            "WaitForEndpoint",
            comment="SageMaker keeps the old model serving until the new one is healthy.",
        ),
    }


def _wait_in_service_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """Poll until the endpoint serves this run's config; a broken endpoint, or one SageMaker
    put back on another config, is a failed deploy."""
    endpoint = settings.endpoint_name
    return {
        "WaitForEndpoint": {
            "Type": "Wait",
            "Seconds": settings.endpoint_poll_seconds,
            "Next": "DescribeEndpoint",
        },
        "DescribeEndpoint": describe_endpoint(endpoint, "EndpointReady?"),
        "EndpointReady?": {
            "Type": "Choice",
            "Choices": [
                {**endpoint_broken(), "Next": "DeployFailed"},
                {
                    # InService on another config: SageMaker rolled the update back (an
                    # alarm fired during the bake, or the new fleet never became healthy).
                    "And": [
                        endpoint_is("InService"),
                        {
                            "Not": {
                                "Variable": "$.endpoint.endpoint_config_name",
                                "StringEqualsPath": "$.run.endpoint_config_name",
                            }
                        },
                    ],
                    "Next": "RolledBackBySageMaker",
                },
                {**endpoint_is("InService"), "Next": "SmokeTest"},
            ],
            "Default": "WaitForEndpoint",
        },
        "DeployFailed": failure(
            "EndpointDeployFailed",
            f"endpoint {endpoint} is {{}} on config {{}}",
            "$.endpoint.status, $.endpoint.endpoint_config_name",
            "RejectChallenger",
        ),
        "RolledBackBySageMaker": failure(
            "EndpointRolledBack",
            f"SageMaker rolled endpoint {endpoint} back to config {{}} (an auto-rollback alarm "
            f"of {', '.join(settings.deploy.rollback_alarm_names)} fired, or the new fleet was "
            "not healthy)",
            "$.endpoint.endpoint_config_name",
            "RejectChallenger",
        ),
    }
