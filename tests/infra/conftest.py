"""Synthesize the CDK app once per test session (jsii starts once) from the real cdk.json and
the repository itself: synth stages the images' build contexts (the two Dockerfiles), it never
builds them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, Synth, cdk_context

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


# What every real `cdk deploy` has: an account and region from the caller's profile (dev here,
# through CDK_DEFAULT_*), or pinned in cdk.json (prod here, in another partition, so partition
# literals are exercised too). Findings then carry concrete values, not <AWS::Region> tokens.
CONCRETE_ACCOUNT = "123456789012"
CONCRETE_REGIONS = {"dev": "eu-west-3", "prod": "us-gov-west-1"}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Environment-agnostic, as `cdk synth` without a profile."""
    return _synthesize(tmp_path_factory.mktemp("cdk"), cdk_context(), {})


@pytest.fixture(scope="session")
def synth_concrete(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """With a concrete account and region, as `cdk deploy` synthesizes."""
    context = cdk_context()
    stages = context["prodcat:stages"]
    stages["prod"] = {
        **stages["prod"],
        "account": CONCRETE_ACCOUNT,
        "region": CONCRETE_REGIONS["prod"],
    }
    env = {"CDK_DEFAULT_ACCOUNT": CONCRETE_ACCOUNT, "CDK_DEFAULT_REGION": CONCRETE_REGIONS["dev"]}
    return _synthesize(tmp_path_factory.mktemp("cdk-concrete"), context, env)


def _synthesize(tmp: Path, context: dict[str, Any], env: dict[str, str]) -> Synth:
    from aws_cdk import App

    from infra.app import build_app

    outdir = tmp / "cdk.out"
    app = App(context=context, outdir=str(outdir))
    saved = {name: os.environ.get(name) for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")}
    try:
        for name in saved:
            os.environ.pop(name, None)
        os.environ.update(env)
        stages = build_app(app, REPO_ROOT)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    error: str | None = None
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings: the assembly is still written
        error = str(exc)
    report_file = outdir / "validation-report.json"
    templates: dict[tuple[str, str], dict[str, Any]] = {}
    names: dict[tuple[str, str], str] = {}
    protection: dict[tuple[str, str], bool] = {}
    for stage in stages:
        for key, stack in stage.stacks.items():
            path = outdir / f"assembly-{stage.config.stage}" / stack.template_file  # type: ignore[attr-defined]
            templates[(stage.config.stage, key)] = json.loads(path.read_text())
            names[(stage.config.stage, key)] = stack.stack_name  # type: ignore[attr-defined]
            protection[(stage.config.stage, key)] = bool(stack.termination_protection)  # type: ignore[attr-defined]
    return Synth(
        outdir=outdir,
        templates=templates,
        stack_names=names,
        termination_protection=protection,
        validation_error=error,
        validation_report=json.loads(report_file.read_text()) if report_file.exists() else None,
        asset_dirs=sorted(outdir.glob("asset.*")),
    )
