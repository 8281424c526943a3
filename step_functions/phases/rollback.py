"""Roll a failed deploy back: RejectChallenger -> back to the previous endpoint config (or
delete the endpoint a first deploy created) -> NotifyRolledBack -> RolledBack."""

from __future__ import annotations

from step_functions.asl import State, aws_call
from step_functions.phases.tasks import (
    describe_endpoint,
    endpoint_broken,
    endpoint_is,
    notify,
)
from step_functions.settings import PipelineDefinitionSettings


def rollback_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    endpoint = settings.endpoint_name
    previous_known = {"Variable": "$.previous.endpoint_config_name", "IsNull": False}
    return {
        "RejectChallenger": aws_call(
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
                        endpoint_is("InService"),
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
        "RestorePreviousConfig": aws_call(
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
        "DescribeRestoredEndpoint": describe_endpoint(endpoint, "Restored?"),
        "Restored?": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        endpoint_is("InService"),
                        {
                            "Variable": "$.endpoint.endpoint_config_name",
                            "StringEqualsPath": "$.previous.endpoint_config_name",
                        },
                    ],
                    "Next": "NotifyRolledBack",
                },
                {
                    "Or": [*endpoint_broken()["Or"], endpoint_is("InService")],
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
        "DeleteEndpoint": aws_call(
            "arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint",
            {"EndpointName": endpoint},
            "NotifyRolledBack",
        ),
        "NotifyRolledBack": notify(
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
