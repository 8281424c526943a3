"""The retrain -> evaluate -> gate -> register -> deploy state machine, as plain ASL (JSONPath).

Pure Python, no CDK: the pipeline construct renders it with `json.dumps` and fills the
``${Placeholder}`` names in `PLACEHOLDERS` with deploy-time values (bucket, roles, images,
function and topic ARNs, code version) through CloudFormation definition substitutions; tests
(asl-validator, moto's interpreter through step_functions/render.py) use the same dict. Static
settings (instance types, serverless memory, gate policy, rollback alarms) are rendered in from
`PipelineDefinitionSettings` (both in step_functions/settings.py).

This module only assembles the phases. Each phase's states are built in its own module, over
the ASL helpers of step_functions/asl.py (which the drift check, step_functions/drift_check.py,
uses too):

  phases/guard.py       NameRun -> PlanRun -> ListRunningRuns -> (another, older run is
                        RUNNING: NotifyAlreadyRunning -> AlreadyRunning)
  phases/train.py       Prepare (processing: raw zone -> curated/<run>/, dataset.json) ->
                        ReadDataset -> Train
  phases/gate.py        LookupChampion -> [Evaluate the challenger, and the champion on the
                        *same* test rows when one exists] -> Gate (Lambda) -> Promote?;
                        rejected: RegisterRejected -> NotifyRejected -> NotPromoted
  phases/register.py    the registry entry (RegisterRejected, RegisterCandidate)
  phases/deploy.py      RegisterCandidate (PendingManualApproval) -> CreateModel ->
                        CreateEndpointConfig -> CreateEndpoint, or RememberPreviousConfig ->
                        UpdateEndpoint (blue/green, auto-rollback alarms) -> wait until InService
  phases/smoke.py       SmokeTest (Lambda) -> SmokePassed?
  phases/rollback.py    deploy or smoke test failed: RejectChallenger -> back to the previous
                        endpoint config (or delete the endpoint a first deploy created) ->
                        NotifyRolledBack -> RolledBack
  phases/publish.py     ApproveChallenger -> metrics.json and baseline.json under
                        models/production/ -> NotifyDeployed -> Deployed
  phases/reclassify.py  (where enabled, before NotifyDeployed) the catalogue through a Batch
                        Transform of the new model
  here                  NotifyFailure -> PipelineFailed

Every SageMaker task retries with backoff and catches (into NotifyFailure -> PipelineFailed);
every terminal state is preceded by a notification to the on-call topic that says what happened
with links to the execution and the artefacts.

The champion is the newest *Approved* package of the group, and a package is approved only once
it serves and passed the smoke test: the champion is always the model in production.
"""

from __future__ import annotations

from typing import Any

from step_functions.asl import State, retry
from step_functions.phases.deploy import deploy_states
from step_functions.phases.gate import evaluate_states, rejected_states
from step_functions.phases.guard import guard_states, run_states
from step_functions.phases.publish import publish_states
from step_functions.phases.rollback import rollback_states
from step_functions.phases.smoke import smoke_states
from step_functions.phases.tasks import notify
from step_functions.phases.train import train_states
from step_functions.settings import (
    PLACEHOLDERS,
    DeploySettings,
    JobResources,
    PipelineDefinitionSettings,
    ReclassifySettings,
    ServerlessSettings,
    sub,
)

# What the definition's users (the pipeline construct, the local run, the tests) import from
# here: the settings it is rendered from live in step_functions/settings.py.
__all__ = [
    "PLACEHOLDERS",
    "DeploySettings",
    "JobResources",
    "PipelineDefinitionSettings",
    "ReclassifySettings",
    "ServerlessSettings",
    "build_definition",
]


def _failure_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    """Where every Catch ends: page on-call with the error, then fail the execution."""
    return {
        "NotifyFailure": {
            **notify(
                f"prodcat {settings.name_prefix}: pipeline failed",
                "Run {} failed: {}: {}. Training set: {}; reports: {}. Execution: {}",
                "$.run.id, $.error.Error, $.error.Cause, $.run.curated_uri, "
                "$.run.challenger_report_uri, $.run.console_url",
                "PipelineFailed",
            ),
            "Retry": retry(["States.ALL"], interval_seconds=5, max_attempts=4),
        },
        "PipelineFailed": {
            "Type": "Fail",
            "Error": "PipelineFailed",
            "Cause": "A step failed; the on-call topic has the error.",
        },
    }


def build_definition(settings: PipelineDefinitionSettings) -> dict[str, Any]:
    """Return the state machine definition (ASL, JSONPath) for these settings."""
    bucket = sub("DataLakeBucket")
    states: dict[str, State] = {
        **run_states(settings, bucket),
        **guard_states(settings),
        **train_states(settings, bucket),
        **evaluate_states(settings),
        **rejected_states(settings),
        **deploy_states(settings),
        **smoke_states(settings),
        **rollback_states(settings),
        **publish_states(settings),
        **_failure_states(settings),
    }
    return {
        "Comment": f"prodcat {settings.name_prefix}: retrain -> evaluate -> gate -> register -> "
        "deploy",
        "StartAt": "NameRun",
        "States": states,
    }
