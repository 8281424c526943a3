"""Evaluate and gate: LookupChampion -> [Evaluate the challenger, and the champion on the
*same* test rows when one exists] -> Gate (Lambda) -> Promote? ->
  rejected: RegisterRejected -> NotifyRejected -> NotPromoted
  promoted: RegisterCandidate (phases/deploy.py)

The champion is the newest *Approved* package of the group, and a package is approved only once
it serves and passed the smoke test (phases/publish.py): the champion is always the model in
production.
"""

from __future__ import annotations

from step_functions.asl import (
    SYNC_PROCESSING_JOB,
    State,
    aws_call,
    catch,
    job_retry,
    lambda_retry,
    s3_input,
    s3_output,
)
from step_functions.phases.register import register_state
from step_functions.phases.tasks import notify, processing_job
from step_functions.settings import (
    EVALUATE_MODEL,
    EVALUATE_OUTPUT,
    EVALUATE_TEST,
    PipelineDefinitionSettings,
    sub,
)

# The kind of job in its name: distinct per Create*Job state of one run, since SageMaker
# refuses a second job of a name (the two evaluations run side by side in one Parallel).
_EVALUATION_KIND = {"challenger": "evchal", "champion": "evchamp"}


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
        "Resource": SYNC_PROCESSING_JOB,
        "Parameters": processing_job(
            settings,
            kind=_EVALUATION_KIND[who],
            module="sagemaker_jobs.evaluate",
            role="EvaluateRoleArn",
            inputs=[
                s3_input("model", model_path, EVALUATE_MODEL),
                s3_input("test", "$.run.test_uri", EVALUATE_TEST),
            ],
            outputs=[s3_output("evaluation", reports, EVALUATE_OUTPUT)],
            arguments=["--smoke-cases", str(smoke)],
        ),
        "ResultSelector": {"job_name.$": "$.ProcessingJobName"},
        "ResultPath": f"$.{who}_evaluation",
        "Retry": job_retry(),
    }
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def _evaluate_both(settings: PipelineDefinitionSettings) -> State:
    def branch(who: str, model_path: str) -> State:
        name = f"Evaluate{who.capitalize()}"
        return {
            "StartAt": name,
            "States": {
                name: _evaluate_state(settings, who=who, model_path=model_path, next_state=None)
            },
        }

    return {
        "Type": "Parallel",
        "Comment": "Challenger and champion on the same test rows: the gate compares like "
        "with like.",
        "Branches": [
            branch("challenger", "$.training.model_data_url"),
            branch("champion", "$.champion.container.ModelDataUrl"),
        ],
        "ResultSelector": {
            "challenger_metrics_uri.$": "States.Format('{}metrics.json', "
            "$[0].run.challenger_report_uri)",
            "champion_metrics_uri.$": "States.Format('{}metrics.json', "
            "$[1].run.champion_report_uri)",
        },
        "ResultPath": "$.evaluation",
        "Catch": catch(),
        "Next": "Gate",
    }


def evaluate_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """The champion (if any) found, both models evaluated, the gate's decision taken."""
    return {
        "LookupChampion": aws_call(
            "arn:aws:states:::aws-sdk:sagemaker:listModelPackages",
            {
                "ModelPackageGroupName": sub("ModelPackageGroupName"),
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
        "DescribeChampion": aws_call(
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
        "EvaluateBoth": _evaluate_both(settings),
        "EvaluateFirstModel": {
            **_evaluate_state(
                settings,
                who="challenger",
                model_path="$.training.model_data_url",
                next_state="NoChampionToCompare",
            ),
            "Catch": catch(),
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
                "FunctionName": sub("GateFunctionArn"),
                "Payload": {
                    "challenger_metrics_uri.$": "$.evaluation.challenger_metrics_uri",
                    "champion_metrics_uri.$": "$.evaluation.champion_metrics_uri",
                    "policy": settings.gate.model_dump(),
                },
            },
            "ResultSelector": {"decision.$": "$.Payload"},
            "ResultPath": "$.gate",
            "Retry": lambda_retry(),
            "Catch": catch(),
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


def rejected_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """A challenger the gate turned down is registered as Rejected; production keeps its model."""
    return {
        "RegisterRejected": register_state("Rejected", "NotifyRejected"),
        "NotifyRejected": notify(
            f"prodcat {settings.name_prefix}: challenger rejected",
            "Run {} trained model {} that does not replace production: {}. Registered as "
            "Rejected: {}. Reports: {}. Execution: {}",
            "$.run.id, $.gate.decision.challenger_version, "
            "States.JsonToString($.gate.decision.reasons), $.registered.arn, "
            "$.run.challenger_report_uri, $.run.console_url",
            "NotPromoted",
        ),
        "NotPromoted": {"Type": "Succeed", "Comment": "Production keeps its model."},
    }
