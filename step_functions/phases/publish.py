"""Publish a model that serves and passed its smoke test: ApproveChallenger (Approved = in
production, the next run's champion) -> metrics.json and baseline.json under models/production/
(the drift check reads the baseline there) -> [reclassify the catalogue, phases/reclassify.py]
-> NotifyDeployed -> Deployed."""

from __future__ import annotations

from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY, PRODUCTION_METRICS_KEY
from step_functions.asl import State, aws_call
from step_functions.phases.reclassify import reclassify_states
from step_functions.phases.tasks import notify
from step_functions.settings import PipelineDefinitionSettings, sub


def publish_states(settings: PipelineDefinitionSettings) -> dict[str, State]:
    bucket = sub("DataLakeBucket")

    def copy(name: str, key: str, next_state: str) -> State:
        return aws_call(
            "arn:aws:states:::aws-sdk:s3:copyObject",
            {
                "Bucket": bucket,
                "Key": key,
                "CopySource.$": f"States.Format('{bucket}/{{}}{name}', $.run.challenger_report_key)",
            },
            next_state,
        )

    return {
        "ApproveChallenger": aws_call(
            "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage",
            {
                "ModelPackageArn.$": "$.registered.arn",
                "ModelApprovalStatus": "Approved",
                "ApprovalDescription.$": f"States.Format('Serving on {settings.endpoint_name} "
                "since run {}; smoke test passed on {} known listings', $.run.id, "
                "$.smoke.result.checked)",
            },
            "PublishProductionMetrics",
            comment="Approved = in production: the next run's champion.",
        ),
        "PublishProductionMetrics": {
            **copy("metrics.json", PRODUCTION_METRICS_KEY, "PublishProductionBaseline"),
            "Comment": "The production model's reports at fixed keys (the drift job reads them).",
        },
        "PublishProductionBaseline": copy(
            "baseline.json",
            PRODUCTION_BASELINE_KEY,
            "PlanReclassify" if settings.reclassify else "NotifyDeployed",
        ),
        **(reclassify_states(settings, settings.reclassify) if settings.reclassify else {}),
        "NotifyDeployed": notify(
            f"prodcat {settings.name_prefix}: new model in service",
            f"Run {{}} deployed model {{}} to endpoint {settings.endpoint_name} (package {{}}, "
            "data version {}). Gate: {}. Smoke test: {} known listings passed. Reports: {}; "
            f"production metrics: s3://{bucket}/{PRODUCTION_METRICS_KEY}. Execution: {{}}",
            "$.run.id, $.gate.decision.challenger_version, $.registered.arn, "
            "$.dataset.manifest.data_version, States.JsonToString($.gate.decision.reasons), "
            "$.smoke.result.checked, $.run.challenger_report_uri, $.run.console_url",
            "Deployed",
        ),
        "Deployed": {"Type": "Succeed"},
    }
