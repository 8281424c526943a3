"""cdk-nag AwsSolutions: zero unacknowledged findings, each acknowledgment with a reason;
cfn-lint: nothing on any synthesized template (W3005 aside: CDK emits it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from infra_helpers import REPO_ROOT, Synth


@pytest.mark.parametrize("environment", ["synth", "synth_concrete"])
def test_cdk_nag_reports_no_unacknowledged_finding(
    environment: str, request: pytest.FixtureRequest
) -> None:
    """Both as `cdk synth` without a profile and as `cdk deploy` (account and region known)."""
    synthesized: Synth = request.getfixturevalue(environment)
    findings = []
    for report in (synthesized.validation_report or {}).get("pluginReports", []):
        if report["pluginName"] != "AwsSolutions":
            continue  # CDK's own template checks only warn (see the partition test below)
        for violation in report["violations"]:
            for construct in violation["violatingConstructs"]:
                findings.append(f"{violation['ruleName']} at {construct['constructPath']}")
    assert synthesized.validation_error is None and not findings, "\n".join(findings)


def test_concrete_synth_spells_arns_with_the_account_region_and_partition(
    synth_concrete: Synth,
) -> None:
    """The concrete synth really is concrete: what the acknowledgments had to match."""
    dev = json.dumps(synth_concrete.template("dev", "ml"))
    prod = json.dumps(synth_concrete.template("prod", "ml"))
    assert "arn:aws:logs:eu-west-3:123456789012:log-group:/aws/sagemaker/TrainingJobs:*" in dev
    assert (
        "arn:aws-us-gov:logs:us-gov-west-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:*"
        in prod
    )


def test_nag_spelling_follows_the_stack_environment() -> None:
    from aws_cdk import App, Environment, Stack

    from infra.constructs.nag import nag_spelling

    app = App(context={"@aws-cdk/core:enablePartitionLiterals": True})  # as cdk.json sets it
    agnostic = Stack(app, "Agnostic")
    concrete = Stack(app, "Concrete", env=Environment(account="123456789012", region="cn-north-1"))
    for stack, expected in (
        (agnostic, "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model/p-*"),
        (concrete, "arn:aws-cn:sagemaker:cn-north-1:123456789012:model/p-*"),
    ):
        arn = stack.format_arn(service="sagemaker", resource="model", resource_name="p-*")
        assert nag_spelling(stack, arn) == expected


def test_validation_failures_reads_only_failed_plugins(tmp_path: Path) -> None:
    from infra.app import validation_failures

    assert validation_failures(tmp_path) == []  # no report: nothing ran, nothing failed
    violation = {
        "ruleName": "AwsSolutions-SQS4",
        "violatingConstructs": [{"constructPath": "dev/Data/Queue/Resource"}],
    }
    report = {
        "pluginReports": [
            {
                "pluginName": "CloudFormation-Validate",
                "conclusion": "success",
                "violations": [violation],
            },
            {"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [violation]},
        ]
    }
    (tmp_path / "validation-report.json").write_text(json.dumps(report))
    assert validation_failures(tmp_path) == ["AwsSolutions-SQS4 at dev/Data/Queue/Resource"]


def test_an_acknowledgment_without_a_reason_is_refused() -> None:
    from aws_cdk import App

    from infra.constructs.nag import acknowledge

    with pytest.raises(ValueError, match="real reason"):
        acknowledge(App(), "because", "AwsSolutions-S1")


def test_make_synth_fails_on_a_finding_in_a_concrete_environment(tmp_path: Path) -> None:
    """Through the CDK CLI, as a platform engineer runs it (the CLI alone exited 0 here)."""
    app = f"{sys.executable} {REPO_ROOT / 'tests/infra/apps/app_with_finding.py'}"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "synth",
            f"CDK_OUT={tmp_path / 'cdk.out'}",
            f"CDK_ARGS=--app '{app}' -c stage=dev",
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "CDK_DEFAULT_ACCOUNT": "123456789012",
            "CDK_DEFAULT_REGION": "eu-west-3",
            "PYTHONPATH": str(REPO_ROOT),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "unacknowledged cdk-nag finding" in result.stderr
    assert "AwsSolutions-SQS4 at dev/Data/UnencryptedOnPurpose/Resource" in result.stderr


def test_cfn_lint_reports_nothing_on_any_template(synth: Synth) -> None:
    templates = sorted(str(p) for p in synth.outdir.glob("assembly-*/*.template.json"))
    assert len(templates) == 16  # 8 stacks x 2 stages
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--ignore-checks",
            "W3005",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
