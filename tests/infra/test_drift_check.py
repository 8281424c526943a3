"""The scheduled drift check as deployed: schedule -> state machine -> processing job, its
least-privilege roles, the arguments the job really parses, and the alarms on what it publishes
(drift, its own failure) and on the API's low-confidence rate."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import (
    REPO_ROOT,
    Synth,
    actions_of,
    flatten,
    grants,
    policy_statements,
    resources,
)

from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY
from sagemaker_jobs import drift as drift_job
from step_functions.drift_check import PLACEHOLDERS

ASL_VALIDATOR = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"


def _run_validator(path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: asl-validator (npm) cannot run")
    if not ASL_VALIDATOR.exists():
        npm = shutil.which("npm")
        assert npm, "node without npm: cannot install the pinned asl-validator"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REPO_ROOT, check=True)
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60
    )


def _monitoring(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "monitoring")


def _state_machine(synth: Synth, stage: str) -> dict[str, Any]:
    (machine,) = resources(_monitoring(synth, stage), "AWS::StepFunctions::StateMachine").values()
    props: dict[str, Any] = machine["Properties"]
    return props


def _definition(synth: Synth, stage: str) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(_state_machine(synth, stage)["DefinitionString"])
    return definition


def _alarm(synth: Synth, stage: str, name: str) -> dict[str, Any]:
    (alarm,) = [
        a["Properties"]
        for lid, a in resources(_monitoring(synth, stage), "AWS::CloudWatch::Alarm").items()
        if lid.startswith(f"Monitoring{name}")
    ]
    return alarm


def _job(synth: Synth, stage: str) -> dict[str, Any]:
    params: dict[str, Any] = _definition(synth, stage)["States"]["CheckDrift"]["Parameters"]
    return params


def _job_argv(synth: Synth, stage: str) -> list[str]:
    """The job's command line as Step Functions renders it (bucket substituted, --until set)."""
    array = _job(synth, stage)["AppSpecification"]["ContainerArguments.$"]
    assert array.startswith("States.Array(") and array.endswith(", $.check.until)")
    literals = re.findall(r"'([^']*)'", array)
    assert literals[-1] == "--until"
    text = " ".join(literals).replace("${DataLakeBucket}", "lake-bucket")
    return [*text.split(" "), "2024-05-02T04:30:00.123Z"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_definition_passes_asl_validator(synth: Synth, stage: str, tmp_path: Path) -> None:
    path = tmp_path / f"drift-{stage}.asl.json"
    path.write_text(json.dumps(_definition(synth, stage)))
    result = _run_validator(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_job_parses_the_arguments_the_state_machine_gives_it(synth: Synth, stage: str) -> None:
    job = _job(synth, stage)
    assert job["AppSpecification"]["ContainerEntrypoint"] == [
        "python",
        "-m",
        "sagemaker_jobs.drift",
    ]
    assert job["AppSpecification"]["ImageUri"] == "${JobsImageUri}"
    settings, output = drift_job.parse_args(_job_argv(synth, stage))
    assert settings.bucket == "lake-bucket" and settings.stage == stage
    assert settings.baseline_key == PRODUCTION_BASELINE_KEY == "models/production/baseline.json"
    assert settings.capture_prefix == "capture/"
    assert settings.threshold == 0.2  # cdk.json monitoring.drift_score_threshold
    assert settings.lookback_hours == 24 and settings.min_samples == 500
    assert settings.until == datetime(2024, 5, 2, 4, 30, 0, 123000, tzinfo=UTC)
    assert settings.publish
    (out,) = job["ProcessingOutputConfig"]["Outputs"]
    assert str(output) == out["S3Output"]["LocalPath"]
    assert "models/reports/drift/date={}/{}/" in out["S3Output"]["S3Uri.$"]


def test_job_names_are_unique_per_run_and_retry_and_fit_sagemakers_limit(synth: Synth) -> None:
    name = _job(synth, "prod")["ProcessingJobName.$"]
    assert name == (
        "States.Format('prodcat-prod-drift-{}-{}', $.check.short_id, $$.State.RetryCount)"
    )
    name_check = _definition(synth, "prod")["States"]["NameCheck"]["Parameters"]
    assert "States.UUID()" in name_check["short_id.$"]
    # The longest stage name config allows (12 chars), 12 hex digits, two retries.
    assert len(f"prodcat-{'x' * 12}-drift-{'f' * 12}-2") <= 63


def test_the_job_is_retried_with_backoff_and_a_failure_fails_the_execution(synth: Synth) -> None:
    state = _definition(synth, "dev")["States"]["CheckDrift"]
    assert state["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    (retry,) = state["Retry"]
    assert "States.TaskFailed" in retry["ErrorEquals"]
    assert retry["MaxAttempts"] >= 1 and retry["BackoffRate"] > 1
    assert "Catch" not in state and state["End"] is True  # DriftCheckFailed counts failures
    props = _state_machine(synth, "dev")
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"


def test_every_placeholder_is_substituted(synth: Synth) -> None:
    props = _state_machine(synth, "dev")
    assert set(props["DefinitionSubstitutions"]) == set(PLACEHOLDERS)
    subs = {k: flatten(v) for k, v in props["DefinitionSubstitutions"].items()}
    assert "DataLakeBucket" in subs["DataLakeBucket"]
    assert "DriftCheckJobRole" in subs["DriftJobRoleArn"]
    assert "container-assets" in subs["JobsImageUri"]
    assert subs["Region"] == "<AWS::Region>"


def test_the_schedule_starts_the_check_daily_with_retries_and_a_dead_letter_queue(
    synth: Synth,
) -> None:
    template = _monitoring(synth, "dev")
    (rule,) = [
        r["Properties"]
        for lid, r in resources(template, "AWS::Events::Rule").items()
        if lid.startswith("DriftCheckSchedule")
    ]
    assert rule["ScheduleExpression"] == "cron(30 4 * * ? *)" and rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert "DriftCheckStateMachine" in flatten(target["Arn"])
    assert "DriftCheckTriggerDeadLetters" in flatten(target["DeadLetterConfig"]["Arn"])
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4


def test_job_role_reads_only_capture_records_and_the_production_baseline(synth: Synth) -> None:
    statements = policy_statements(_monitoring(synth, "prod"), "DriftCheckJobRole")
    allowed = grants(statements)
    reads = {r.partition(">")[2] for r in allowed["s3:GetObject"]}
    assert reads == {"/capture/*.json", "/models/production/baseline.json"}
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["capture/*", "models/production/*"]}
    }
    writes = {r.partition(">")[2] for r in allowed["s3:PutObject"]}
    assert writes == {"/models/reports/drift/*"}
    s3_actions = {a for a in actions_of(statements) if a.startswith("s3:")}
    assert not any(a in s3_actions for a in ("s3:*", "s3:DeleteObject*", "s3:GetObject*"))
    (metrics,) = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
    assert "prodcat" in metrics["Condition"]["StringLike"]["cloudwatch:namespace"]
    assert {"ecr:BatchGetImage", "logs:PutLogEvents"} <= actions_of(statements)


def test_state_machine_role_runs_only_drift_jobs_and_passes_only_their_role(synth: Synth) -> None:
    statements = policy_statements(_monitoring(synth, "prod"), "DriftCheckStateMachineRole")
    allowed = grants(statements)
    # ListTags: Step Functions' SageMaker tasks read the tags of the jobs they create.
    for action in (
        "sagemaker:CreateProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:ListTags",
    ):
        assert allowed[action] == {
            "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
            "processing-job/prodcat-prod-drift-*"
        }
    assert not any(a.startswith("sagemaker:CreateTrainingJob") for a in allowed)
    (passing,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert "DriftCheckJobRole" in flatten(passing["Resource"])
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_drift_alarm_fires_on_one_check_and_keeps_its_state_between_checks(
    synth: Synth, stage: str
) -> None:
    alarm = _alarm(synth, stage, "DriftScore")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("prodcat", "DriftScore")
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dims == {"Stage": stage, "Feature": "overall"}  # what the job publishes
    assert alarm["Statistic"] == "Maximum" and alarm["Threshold"] == 0.2
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # One datapoint a day: one breaching check alarms, and no data keeps the state (a 5-minute
    # period with 3 periods to alarm, missing = not breaching, would never fire).
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 1
    assert alarm["TreatMissingData"] == "ignore"
    assert alarm["Period"] == 3600


def test_the_job_publishes_the_dimensions_the_alarm_and_dashboard_read(synth: Synth) -> None:
    from prodcat.drift import FEATURES

    template = _monitoring(synth, "dev")
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for feature in FEATURES:
        assert f'"Feature","{feature}"' in body, feature
    assert "DriftSampleSize" in body and "Low-confidence rate" in body


def test_low_confidence_rate_alarm_reads_the_predict_lambdas_metric(synth: Synth) -> None:
    alarm = _alarm(synth, "prod", "LowConfidenceRate")
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "IF(predictions >= 20, rate, 0)"
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {s["Stat"] for s in stats.values()} == {"Average", "SampleCount"}
    for stat in stats.values():
        metric = stat["Metric"]
        assert (metric["Namespace"], metric["MetricName"]) == ("prodcat", "LowConfidence")
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dims == {"service": "prodcat-api-predict", "Stage": "prod"}
        assert stat["Period"] == 3600
    assert alarm["Threshold"] == 0.4 and alarm["EvaluationPeriods"] == 3


def test_a_failed_drift_check_alarms(synth: Synth) -> None:
    alarm = _alarm(synth, "dev", "DriftCheckFailed")
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert "FILL(failed, 0)" in expression["Expression"]
    names = set()
    for metric in alarm["Metrics"]:
        if "MetricStat" in metric:
            names.add(metric["MetricStat"]["Metric"]["MetricName"])
            (dimension,) = metric["MetricStat"]["Metric"]["Dimensions"]
            assert "DriftCheckStateMachine" in flatten(dimension["Value"])
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert alarm["EvaluationPeriods"] == 1 and alarm["Threshold"] == 0
