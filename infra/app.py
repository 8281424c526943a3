"""CDK entry point: cdk.json context -> validated StageConfig(s) -> one Stage per config.

    npx cdk synth                      # every stage in cdk.json
    npx cdk deploy -c stage=dev --all  # one stage

Account and region come from the standard CDK environment (CDK_DEFAULT_ACCOUNT/REGION, i.e.
the caller's credentials and profile) unless the stage pins them in cdk.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEY, STAGE_SELECTOR_KEY, ConfigError, load_stage_configs
from infra.stage import ProdcatStage

REPO_ROOT = Path(__file__).resolve().parent.parent


def build_app(app: App, source_root: Path = REPO_ROOT) -> list[ProdcatStage]:
    """Add one ProdcatStage per selected stage, and the cdk-nag AwsSolutions checks."""
    context = {CONTEXT_KEY: app.node.try_get_context(CONTEXT_KEY)}
    selected = app.node.try_get_context(STAGE_SELECTOR_KEY)
    configs = load_stage_configs(context, None if selected in (None, "") else str(selected))
    stages = [
        ProdcatStage(
            app,
            config=config,
            source_root=source_root,
            env=Environment(
                account=config.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
                region=config.region or os.environ.get("CDK_DEFAULT_REGION"),
            ),
        )
        for config in configs
    ]
    # Any unacknowledged finding fails synth (and so deploy); see validation-report.json.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stages


def validation_failures(assembly_dir: Path) -> list[str]:
    """The findings of every failed policy-validation plugin (cdk-nag) in an assembly."""
    report_file = assembly_dir / "validation-report.json"
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text())
    return [
        f"{violation['ruleName']} at {construct['constructPath']}"
        for plugin in report.get("pluginReports", [])
        if plugin.get("conclusion") == "failure"
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


def synth(app: App) -> None:
    """Synthesize, and exit 1 on any unacknowledged finding.

    Run by the CDK CLI, a failed validation does not fail the app: the CLI reads the report
    only for the stacks it is asked to show, and `cdk synth` of a staged app shows none, so it
    printed "Successfully synthesized" over a failing report. Failing here fails `cdk synth`
    and `cdk deploy` alike, whatever stacks they select.
    """
    try:
        assembly = app.synth()
    except RuntimeError as error:  # outside the CLI, the validation failure is raised
        if "ValidationFailed" not in str(error):
            raise
        outdir = app.outdir
    else:
        outdir = assembly.directory
    failures = validation_failures(Path(outdir))
    if failures:
        print(
            f"prodcat: {len(failures)} unacknowledged cdk-nag finding(s), see "
            f"{outdir}/validation-report.json:\n  " + "\n  ".join(failures),
            file=sys.stderr,
        )
        raise SystemExit(1)


def main() -> None:
    app = App()
    try:
        build_app(app)
    except ConfigError as error:
        print(f"prodcat: {error}", file=sys.stderr)
        raise SystemExit(1) from error
    synth(app)


if __name__ == "__main__":
    main()
