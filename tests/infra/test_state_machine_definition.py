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
from infra.constructs.data_lake_construct import ZONES
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
        "RegisterApproved",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "UpdateEndpoint",
        "DescribeEndpoint",
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


def test_retried_jobs_get_fresh_names() -> None:
    states = _all_states(_definition())
    for name in ("Prepare", "Train", "EvaluateChallenger", "EvaluateChampion"):
        params = states[name]["Parameters"]
        job_name = params.get("TrainingJobName.$") or params["ProcessingJobName.$"]
        assert "$$.State.RetryCount" in job_name, name


def test_happy_path_order() -> None:
    states = _definition()["States"]
    path, name = [], "NameRun"
    choices = {
        "HasChampion": "DescribeChampion",
        "Promote?": "RegisterApproved",
        "EndpointExists?": "RememberPreviousConfig",
    }
    while states[name]["Type"] not in ("Succeed", "Fail"):
        path.append(name)
        if states[name]["Type"] == "Choice":
            name = choices.get(name) or "NotifyDeployed"
        else:
            name = states[name]["Next"]
    assert path == [
        "NameRun",
        "PlanRun",
        "Prepare",
        "Train",
        "LookupChampion",
        "HasChampion",
        "DescribeChampion",
        "EvaluateBoth",
        "Gate",
        "Promote?",
        "RegisterApproved",
        "CreateModel",
        "CreateEndpointConfig",
        "FindEndpoint",
        "EndpointExists?",
        "RememberPreviousConfig",
        "UpdateEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "EndpointReady?",
        "NotifyDeployed",
    ]
    assert name == "Deployed"


def test_rejected_challenger_is_registered_rejected_and_notified_without_deploy() -> None:
    states = _definition()["States"]
    assert states["Promote?"]["Default"] == "RegisterRejected"
    rejected = states["RegisterRejected"]
    assert rejected["Parameters"]["ModelApprovalStatus"] == "Rejected"
    assert rejected["Next"] == "NotifyRejected"
    assert states["NotifyRejected"]["Next"] == "NotPromoted"
    assert states["NotPromoted"]["Type"] == "Succeed"
    assert states["RegisterApproved"]["Parameters"]["ModelApprovalStatus"] == "Approved"


def test_first_deploy_creates_the_endpoint_and_a_rolled_back_update_fails() -> None:
    states = _definition()["States"]
    assert states["EndpointExists?"]["Default"] == "CreateEndpoint"
    assert states["HasChampion"]["Default"] == "EvaluateFirstModel"
    assert states["NoChampionToCompare"]["Parameters"]["champion_metrics_uri"] is None
    ready = states["EndpointReady?"]["Choices"]
    assert ready[0] == {
        "Variable": "$.endpoint.status",
        "StringEquals": "Failed",
        "Next": "DeployFailed",
    }
    assert ready[1]["Next"] == "DeployFailed" and "And" in ready[1]
    assert states["DeployFailed"]["Next"] == "NotifyFailure"
    assert states["EndpointReady?"]["Default"] == "WaitForEndpoint"


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
