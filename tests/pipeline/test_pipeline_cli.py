"""`prodcat pipeline start --stage dev`: finds the stage's state machine by its fixed name in the
caller's account and starts a named, attributed run (moto's Step Functions and STS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from prodcat_cli.cli import main as cli
from step_functions.trigger import execution_name, start_run, state_machine_arn

PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def sfn(aws_env: None) -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        import boto3

        client = boto3.client("stepfunctions")
        client.create_state_machine(
            name="prodcat-dev-retrain",
            definition=PASS,
            roleArn="arn:aws:iam::123456789012:role/states",
        )
        yield client


def test_the_cli_starts_the_stages_state_machine(
    sfn: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "alice")
    assert cli(["pipeline", "start", "--stage", "dev"]) == 0

    printed = json.loads(capsys.readouterr().out)
    machine = state_machine_arn("dev", account="123456789012", region="eu-west-3")
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert printed["execution_arn"] == execution["executionArn"]
    assert printed["name"].startswith("manual-alice-")
    assert "console.aws.amazon.com/states" in printed["console_url"]
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"trigger": "manual", "requested_by": "alice"}


def test_a_stage_that_is_not_deployed_is_an_error_not_a_trace(
    sfn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["pipeline", "start", "--stage", "prod"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("prodcat pipeline start: error:") and "prodcat-prod-retrain" in error


def test_start_run_takes_injected_clients_and_an_explicit_arn(sfn: Any) -> None:
    machine = state_machine_arn("dev", account="123456789012", region="eu-west-3")
    when = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    run = start_run("dev", sfn=sfn, state_machine=machine, requested_by="ci bot/7", now=when)
    assert run.name == "manual-ci-bot-7-20260504T030201Z"
    assert run.execution_arn.endswith(":execution:prodcat-dev-retrain:" + run.name)


def test_execution_names_are_safe_and_bounded() -> None:
    name = execution_name("a" * 200 + " <x>", datetime(2026, 1, 1, tzinfo=UTC))
    assert len(name) <= 80 and set(name) <= set("abcdefghijklmnopqrstuvwxyzTZ0123456789-_")
