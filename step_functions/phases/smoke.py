"""The smoke test after a deploy: SmokeTest (Lambda: known listings through the endpoint) ->
SmokePassed? -> ApproveChallenger (phases/publish.py), or SmokeFailed -> RejectChallenger
(phases/rollback.py)."""

from __future__ import annotations

from prodcat_contracts.lake import SMOKE_CASES
from step_functions.asl import State, catch, failure, lambda_retry
from step_functions.settings import PipelineDefinitionSettings, sub


def smoke_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    endpoint = settings.endpoint_name
    return {
        "SmokeTest": {
            "Type": "Task",
            "Comment": "Known listings through the endpoint: shape, model version, top-1 in top-k.",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": sub("SmokeFunctionArn"),
                "Payload": {
                    "endpoint_name": endpoint,
                    "cases_uri.$": f"States.Format('{{}}{SMOKE_CASES}', "
                    "$.run.challenger_report_uri)",
                    "expected_model_version.$": "$.gate.decision.challenger_version",
                },
            },
            "ResultSelector": {"result.$": "$.Payload"},
            "ResultPath": "$.smoke",
            "Retry": lambda_retry(),
            # A smoke test that cannot run has not passed: roll back as for a failure.
            "Catch": catch("RejectChallenger"),
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
        "SmokeFailed": failure(
            "SmokeTestFailed",
            "{} of {} known listings failed: {}",
            "States.ArrayLength($.smoke.result.failures), $.smoke.result.checked, "
            "States.JsonToString($.smoke.result.failures)",
            "RejectChallenger",
        ),
    }
