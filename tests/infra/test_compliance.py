"""cdk-nag AwsSolutions: zero unacknowledged findings, each acknowledgment with a reason;
cfn-lint: nothing on any synthesized template (W3005 aside: CDK emits it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from infra_helpers import Synth, cdk_context


def test_cdk_nag_reports_no_unacknowledged_finding(synth: Synth) -> None:
    findings = []
    for report in (synth.validation_report or {}).get("pluginReports", []):
        for violation in report["violations"]:
            for construct in violation["violatingConstructs"]:
                findings.append(f"{violation['ruleName']} at {construct['constructPath']}")
    assert synth.validation_error is None and not findings, "\n".join(findings)


def test_an_acknowledgment_without_a_reason_is_refused() -> None:
    from aws_cdk import App

    from infra.constructs.nag import acknowledge

    with pytest.raises(ValueError, match="real reason"):
        acknowledge(App(), "because", "AwsSolutions-S1")


def test_cdk_nag_is_wired_into_build_app_and_fails_synth_on_a_finding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aws_cdk import App
    from aws_cdk import aws_sqs as sqs

    from infra.app import build_app

    context = {**cdk_context(), "stage": "dev"}
    app = App(context=context, outdir=str(tmp_path / "cdk.out"))
    (stage,) = build_app(app, _placeholder_root(tmp_path))
    sqs.Queue(stage.data, "UnencryptedOnPurpose", enforce_ssl=False)  # SQS3/SQS4 findings
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    rules = {v["ruleName"] for r in report["pluginReports"] for v in r["violations"]}
    assert "AwsSolutions-SQS4" in rules


def _placeholder_root(tmp_path):  # type: ignore[no-untyped-def]
    from infra_helpers import REPO_ROOT, repo_has_dockerfiles

    if repo_has_dockerfiles():
        return REPO_ROOT
    import shutil

    root = tmp_path / "source"
    shutil.copytree(
        REPO_ROOT / "lambdas", root / "lambdas", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("inference/Dockerfile", "sagemaker_jobs/Dockerfile"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("FROM scratch\n")
    return root


def test_cfn_lint_reports_nothing_on_any_template(synth: Synth) -> None:
    templates = sorted(str(p) for p in synth.outdir.glob("assembly-*/*.template.json"))
    assert len(templates) == 12
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
