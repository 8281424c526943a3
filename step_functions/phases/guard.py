"""Name and plan the run, then the guard: two runs never overlap.

NameRun -> PlanRun -> ListRunningRuns -> (another, older run is RUNNING: NotifyAlreadyRunning
-> AlreadyRunning) -> Prepare (phases/train.py).
"""

from __future__ import annotations

from prodcat_contracts.lake import DATASET_MANIFEST
from step_functions.asl import State, aws_call
from step_functions.phases.tasks import notify
from step_functions.settings import PipelineDefinitionSettings

# 8 + 12 hex digits of the run's UUID: unique per run, short enough for SageMaker's 63-char
# names with a prefix, a kind and the retry count.
_SHORT_ID = (
    "States.Format('{}{}', States.ArrayGetItem(States.StringSplit($.run.id, '-'), 0), "
    "States.ArrayGetItem(States.StringSplit($.run.id, '-'), 4))"
)
_REGION = "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3)"


def run_states(settings: PipelineDefinitionSettings, bucket: str) -> dict[str, State]:
    """NameRun and PlanRun: the run's id, and every name and location derived from it."""
    return {
        "NameRun": {
            "Type": "Pass",
            "Comment": "One id per run: names every job, data version and model of this run.",
            "Parameters": {"id.$": "States.UUID()"},
            "ResultPath": "$.run",
            "Next": "PlanRun",
        },
        "PlanRun": _run_plan(settings, bucket),
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


def guard_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """Two runs never overlap: the oldest RUNNING execution goes on, any other stops here.

    ListExecutions lists the newest first, so the last ARN is the oldest run. Two runs started
    together both see each other and only the older one goes on; a run is refused before it
    has created anything.
    """
    return {
        "ListRunningRuns": aws_call(
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
        "NotifyAlreadyRunning": notify(
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
