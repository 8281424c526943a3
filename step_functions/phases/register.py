"""The challenger's entry in the model registry (a model package of the group), with its
metrics, drift baseline and lineage: Rejected after the gate says no (phases/gate.py),
PendingManualApproval before a deploy (phases/deploy.py), Approved once it serves and passed
the smoke test (phases/publish.py)."""

from __future__ import annotations

from step_functions.asl import State, api_retry, catch
from step_functions.settings import sub


def register_state(status: str, next_state: str) -> State:
    return {
        "Type": "Task",
        "Comment": f"Record the challenger in the registry as {status}, with its metrics, drift "
        "baseline and lineage (data version, code version, run).",
        "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
        "Parameters": {
            "ModelPackageGroupName": sub("ModelPackageGroupName"),
            "ModelPackageDescription.$": "States.Format('model {} trained by run {} on data "
            "version {}', $.gate.decision.challenger_version, $.run.id, "
            "$.dataset.manifest.data_version)",
            "ModelApprovalStatus": status,
            # A retried call after a lost response must not register the model twice.
            "ClientToken.$": "$.run.id",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": sub("ServingImageUri"),
                        "ModelDataUrl.$": "$.training.model_data_url",
                    }
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri.$": "$.evaluation.challenger_metrics_uri",
                    }
                },
                "ModelDataQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri.$": "States.Format('{}baseline.json', $.run.challenger_report_uri)",
                    }
                },
            },
            "MetadataProperties": {
                "CommitId": sub("CodeVersion"),
                "GeneratedBy.$": "$.run.execution",
            },
            "CustomerMetadataProperties": {
                "run_id.$": "$.run.id",
                "model_version.$": "$.gate.decision.challenger_version",
                "data_version.$": "$.dataset.manifest.data_version",
                "dataset.$": "$.run.curated_uri",
                "code_version": sub("CodeVersion"),
                "training_job.$": "$.training.job_name",
                "execution.$": "$.run.execution",
                "gate.$": "States.Format('{} {} {} vs champion {}', $.gate.decision.mode, "
                "$.gate.decision.metric, $.gate.decision.challenger_score, "
                "$.gate.decision.champion_score)",
            },
        },
        "ResultSelector": {"arn.$": "$.ModelPackageArn"},
        "ResultPath": "$.registered",
        "Retry": api_retry(),
        "Catch": catch(),
        "Next": next_state,
    }
