"""The ASL definition itself: asl-validator, retries and catches, transitions (no jsii)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, cdk_context

from infra.config import load_stage_configs
from prodcat_contracts.lake import ZONES
from step_functions.definition import build_definition

ASL_VALIDATOR = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"


def _definition(stage: str = "dev") -> dict[str, Any]:
    # Import here: training_pipeline_construct imports aws_cdk (jsii) at module level.
    from infra.constructs.training_pipeline_construct import definition_settings

    (config,) = load_stage_configs(cdk_context(), stage)
    return build_definition(definition_settings(config, ZONES))


def _all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_all_states(branch))
    return found


def _run_validator(path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: asl-validator (npm) cannot run")
    if not ASL_VALIDATOR.exists():
        npm = shutil.which("npm")
        assert npm, "node without npm: cannot install the pinned asl-validator"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REPO_ROOT, check=True)
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_definition_passes_asl_validator(stage: str, tmp_path: Path) -> None:
    path = tmp_path / f"{stage}.asl.json"
    path.write_text(json.dumps(_definition(stage)))
    result = _run_validator(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_transition(tmp_path: Path) -> None:
    definition = _definition()
    definition["States"]["Train"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(definition))
    assert _run_validator(path).returncode != 0


def test_every_sagemaker_task_retries_with_backoff_and_catches_into_notify() -> None:
    definition = _definition()
    states = _all_states(definition)
    sagemaker = {
        name: state
        for name, state in states.items()
        if state["Type"] == "Task" and ":sagemaker:" in state["Resource"]
    }
    assert {
        "Prepare",
        "Train",
        "EvaluateChallenger",
        "EvaluateChampion",
        "EvaluateFirstModel",
        "LookupChampion",
        "DescribeChampion",
        "RegisterCandidate",
        "RegisterRejected",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "UpdateEndpoint",
        "DescribeEndpoint",
        "ApproveChallenger",
        "RejectChallenger",
        "RestorePreviousConfig",
        "DescribeRestoredEndpoint",
        "DeleteEndpoint",
    } <= set(sagemaker)
    for name, state in sagemaker.items():
        assert state["Retry"], name
        for retry in state["Retry"]:
            assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 2, name
        if name in ("EvaluateChallenger", "EvaluateChampion"):
            continue  # inside the Parallel, whose own Catch covers both branches
        assert state["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}
        ], name
    assert definition["States"]["EvaluateBoth"]["Catch"][0]["Next"] == "NotifyFailure"
    notify = definition["States"]["NotifyFailure"]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Parameters"]["TopicArn"] == "${OnCallTopicArn}"
    assert notify["Next"] == "PipelineFailed"
    assert definition["States"]["PipelineFailed"]["Type"] == "Fail"


def test_every_task_but_the_notifications_catches() -> None:
    for name, state in _all_states(_definition()).items():
        if state["Type"] != "Task" or name in ("EvaluateChallenger", "EvaluateChampion"):
            continue
        assert state["Retry"], name
        if state["Resource"] != "arn:aws:states:::sns:publish":
            assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], name


def test_every_terminal_state_is_reached_only_through_an_on_call_notification() -> None:
    states = _definition()["States"]
    terminal = {n for n, s in states.items() if s["Type"] in ("Succeed", "Fail")}
    assert terminal == {"AlreadyRunning", "NotPromoted", "Deployed", "RolledBack", "PipelineFailed"}
    for name, state in states.items():
        targets = {state.get("Next"), state.get("Default")}
        targets |= {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}
        if targets & terminal:
            assert state["Resource"] == "arn:aws:states:::sns:publish", name
            assert state["Parameters"]["TopicArn"] == "${OnCallTopicArn}"
            message = state["Parameters"]["Message.$"]
            # What happened, with the run and a link to the execution.
            assert "$.run.id" in message and "$.run.console_url" in message, name


def test_notifications_link_the_artefacts() -> None:
    states = _definition()["States"]
    for name in ("NotifyRejected", "NotifyRolledBack", "NotifyFailure", "NotifyDeployed"):
        message = states[name]["Parameters"]["Message.$"]
        assert "$.run.challenger_report_uri" in message, name
    assert "$.registered.arn" in states["NotifyDeployed"]["Parameters"]["Message.$"]
    assert "$.dataset.manifest.data_version" in states["NotifyDeployed"]["Parameters"]["Message.$"]
    assert "$.run.curated_uri" in states["NotifyFailure"]["Parameters"]["Message.$"]


def test_retried_jobs_get_fresh_names() -> None:
    states = _all_states(_definition())
    for name in ("Prepare", "Train", "EvaluateChallenger", "EvaluateChampion"):
        params = states[name]["Parameters"]
        job_name = params.get("TrainingJobName.$") or params["ProcessingJobName.$"]
        assert "$$.State.RetryCount" in job_name, name


def _walk(states: dict[str, Any], choices: dict[str, str]) -> tuple[list[str], str]:
    path, name = [], "NameRun"
    while states[name]["Type"] not in ("Succeed", "Fail"):
        path.append(name)
        name = choices[name] if states[name]["Type"] == "Choice" else states[name]["Next"]
    return path, name


def test_happy_path_order() -> None:
    path, end = _walk(
        _definition()["States"],
        {
            "AnotherRunActive?": "Prepare",
            "HasChampion": "DescribeChampion",
            "Promote?": "RegisterCandidate",
            "EndpointExists?": "RememberPreviousConfig",
            "EndpointReady?": "SmokeTest",
            "SmokePassed?": "ApproveChallenger",
        },
    )
    assert path == [
        "NameRun",
        "PlanRun",
        "ListRunningRuns",
        "AnotherRunActive?",
        "Prepare",
        "ReadDataset",
        "Train",
        "LookupChampion",
        "HasChampion",
        "DescribeChampion",
        "EvaluateBoth",
        "Gate",
        "Promote?",
        "RegisterCandidate",
        "CreateModel",
        "CreateEndpointConfig",
        "FindEndpoint",
        "EndpointExists?",
        "RememberPreviousConfig",
        "UpdateEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "EndpointReady?",
        "SmokeTest",
        "SmokePassed?",
        "ApproveChallenger",
        "PublishProductionMetrics",
        "PublishProductionBaseline",
        "NotifyDeployed",
    ]
    assert end == "Deployed"


def test_rejected_challenger_is_registered_rejected_and_notified_without_deploy() -> None:
    states = _definition()["States"]
    assert states["Promote?"]["Default"] == "RegisterRejected"
    rejected = states["RegisterRejected"]
    assert rejected["Parameters"]["ModelApprovalStatus"] == "Rejected"
    assert rejected["Next"] == "NotifyRejected"
    assert states["NotifyRejected"]["Next"] == "NotPromoted"
    assert states["NotPromoted"]["Type"] == "Succeed"
    # A promoted model is approved only once it serves and passed the smoke test: the newest
    # Approved package (the next champion) is always the model in production.
    assert (
        states["RegisterCandidate"]["Parameters"]["ModelApprovalStatus"] == "PendingManualApproval"
    )
    assert states["ApproveChallenger"]["Parameters"]["ModelApprovalStatus"] == "Approved"
    assert states["LookupChampion"]["Parameters"]["ModelApprovalStatus"] == "Approved"


def test_registry_entries_carry_metrics_and_lineage() -> None:
    params = _definition()["States"]["RegisterCandidate"]["Parameters"]
    metrics = params["ModelMetrics"]
    assert metrics["ModelQuality"]["Statistics"]["S3Uri.$"] == "$.evaluation.challenger_metrics_uri"
    assert "baseline.json" in metrics["ModelDataQuality"]["Statistics"]["S3Uri.$"]
    lineage = params["CustomerMetadataProperties"]
    assert lineage["data_version.$"] == "$.dataset.manifest.data_version"
    assert lineage["code_version"] == "${CodeVersion}"
    assert {"run_id.$", "training_job.$", "execution.$", "model_version.$", "gate.$"} <= set(
        lineage
    )
    assert params["MetadataProperties"]["CommitId"] == "${CodeVersion}"
    assert params["ClientToken.$"] == "$.run.id"  # a retried call registers once


def test_deploy_failures_roll_back_and_notify() -> None:
    states = _definition()["States"]
    ready = {c["Next"]: c for c in states["EndpointReady?"]["Choices"]}
    assert {c["Variable"] for c in ready["DeployFailed"]["Or"]} == {"$.endpoint.status"}
    assert {c["StringEquals"] for c in ready["DeployFailed"]["Or"]} == {
        "Failed",
        "OutOfService",
        "UpdateRollbackFailed",
    }
    assert "And" in ready["RolledBackBySageMaker"]
    assert states["EndpointReady?"]["Default"] == "WaitForEndpoint"
    for name in ("DeployFailed", "RolledBackBySageMaker", "SmokeFailed"):
        assert states[name]["Next"] == "RejectChallenger", name
    assert states["SmokeTest"]["Catch"][0]["Next"] == "RejectChallenger"
    assert states["RejectChallenger"]["Parameters"]["ModelApprovalStatus"] == "Rejected"
    restore = states["RestorePreviousConfig"]["Parameters"]
    assert restore["EndpointConfigName.$"] == "$.previous.endpoint_config_name"
    assert states["RestorePrevious?"]["Default"] == "DeleteEndpoint"  # a first deploy
    assert states["RememberPreviousConfig"]["Next"] == "UpdateEndpoint"  # recorded before
    assert states["NotifyRolledBack"]["Next"] == "RolledBack"
    assert states["RolledBack"]["Type"] == "Fail"
    assert states["EndpointExists?"]["Default"] == "NoPreviousEndpoint"
    assert states["HasChampion"]["Default"] == "EvaluateFirstModel"
    assert states["NoChampionToCompare"]["Parameters"]["champion_metrics_uri"] is None


def test_update_endpoint_rolls_back_on_the_monitoring_stacks_endpoint_alarms() -> None:
    from infra.constructs.rollback_alarms import rollback_alarm_names

    config = _definition("prod")["States"]["UpdateEndpoint"]["Parameters"]["DeploymentConfig"]
    alarms = [a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
    assert alarms == list(rollback_alarm_names("prod"))
    assert alarms == ["prodcat-prod-endpoint-5xx", "prodcat-prod-endpoint-latency-p99"]
    policy = config["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert policy["TerminationWaitInSeconds"] > 0  # a bake time for the alarms to fire in


def test_two_runs_never_overlap() -> None:
    states = _definition()["States"]
    guard = states["ListRunningRuns"]
    assert guard["Resource"] == "arn:aws:states:::aws-sdk:sfn:listExecutions"
    assert guard["Parameters"] == {
        "StateMachineArn.$": "$$.StateMachine.Id",
        "StatusFilter": "RUNNING",
        "MaxResults": 100,
    }
    assert states["PlanRun"]["Next"] == "ListRunningRuns"  # before anything is created
    assert guard["ResultSelector"] == {"running.$": "$.Executions[*].ExecutionArn"}
    assert guard["ResultPath"] == "$.guard"
    # This run is always in the list: a second entry (index 1) means another run is active.
    assert states["AnotherRunActive?"]["Choices"] == [
        {"Variable": "$.guard.running[1]", "IsPresent": True, "Next": "FindOldestRun"}
    ]
    assert states["AnotherRunActive?"]["Default"] == "Prepare"
    # Newest first: the oldest run is the last entry.
    assert states["FindOldestRun"]["Parameters"] == {
        "running.$": "$.guard.running",
        "oldest.$": "States.ArrayGetItem($.guard.running, "
        "States.MathAdd(States.ArrayLength($.guard.running), -1))",
    }
    (older,) = states["OlderRunActive?"]["Choices"]
    assert older == {
        "Variable": "$.guard.oldest",
        "StringEqualsPath": "$.run.execution",
        "Next": "Prepare",
    }
    assert states["OlderRunActive?"]["Default"] == "NotifyAlreadyRunning"
    assert states["AlreadyRunning"]["Type"] == "Succeed"


def test_production_reports_are_published_after_the_smoke_test_only() -> None:
    from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY, PRODUCTION_METRICS_KEY

    states = _definition()["States"]
    assert states["SmokePassed?"]["Choices"][0]["Next"] == "ApproveChallenger"
    assert states["ApproveChallenger"]["Next"] == "PublishProductionMetrics"
    metrics, baseline = states["PublishProductionMetrics"], states["PublishProductionBaseline"]
    assert (
        metrics["Parameters"]["Key"] == PRODUCTION_METRICS_KEY == "models/production/metrics.json"
    )
    assert baseline["Parameters"]["Key"] == PRODUCTION_BASELINE_KEY
    assert "metrics.json" in metrics["Parameters"]["CopySource.$"]
    assert "baseline.json" in baseline["Parameters"]["CopySource.$"]


def test_prepare_reads_the_raw_zone_and_the_challenger_writes_smoke_cases() -> None:
    states = _all_states(_definition())
    prepare = states["Prepare"]["Parameters"]
    assert prepare["ProcessingInputs"][0]["S3Input"]["S3Uri.$"] == "$.run.raw_uri"
    assert prepare["AppSpecification"]["ContainerEntrypoint"][-1] == "sagemaker_jobs.prepare"
    assert prepare["Environment"]["PRODCAT_CODE_VERSION"] == "${CodeVersion}"
    challenger = states["EvaluateChallenger"]["Parameters"]["AppSpecification"]
    champion = states["EvaluateChampion"]["Parameters"]["AppSpecification"]
    assert challenger["ContainerArguments"] == ["--smoke-cases", "8"]
    assert champion["ContainerArguments"] == ["--smoke-cases", "0"]


def test_training_reads_the_runs_curated_train_split_and_writes_artifacts() -> None:
    params = _definition()["States"]["Train"]["Parameters"]
    (channel,) = params["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.run.train_uri"
    assert params["OutputDataConfig"]["S3OutputPath"] == "s3://${DataLakeBucket}/models/artifacts/"
    assert params["AlgorithmSpecification"]["ContainerEntrypoint"] == [
        "python",
        "-m",
        "sagemaker_jobs.train",
    ]
    assert params["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert params["StoppingCondition"]["MaxRuntimeInSeconds"] == 180 * 60
