"""Reclassify the catalogue with the model just deployed (where the stage has it):
PlanReclassify -> WriteCatalogue (processing) -> CreateBatchModel -> ReclassifyCatalogue (Batch
Transform) -> NotifyDeployed; a failure -> NotifyReclassifyFailed -> ReclassifyFailed."""

from __future__ import annotations

from prodcat.transform_job import transform_request
from step_functions.asl import (
    SYNC_PROCESSING_JOB,
    State,
    aws_call,
    catch,
    job_retry,
    s3_input,
    s3_output,
)
from step_functions.phases.tasks import job_name, notify, processing_job
from step_functions.settings import (
    PREPARE_INPUT,
    PREPARE_OUTPUT,
    PipelineDefinitionSettings,
    ReclassifySettings,
    sub,
)


def reclassify_states(
    settings: PipelineDefinitionSettings, reclassify: ReclassifySettings
) -> dict[str, State]:
    """The catalogue (raw zone) -> JSON Lines -> a Batch Transform of the model just deployed ->
    models/predictions/<model version>/output/. Its own role (CatalogueRoleArn: reads the raw
    zone, writes the predictions) runs both jobs and the transform's model, so the endpoint's
    role stays as narrow as serving needs. A failure here leaves the deploy in place and pages."""
    bucket = sub("DataLakeBucket")
    predictions = f"s3://{bucket}/{settings.predictions_prefix}{{}}/"
    version = "$.gate.decision.challenger_version"
    transform = transform_request(
        name="",
        model_name="",
        input_uri="",
        output_uri="",
        photo_bucket=bucket,
        photo_prefix=settings.raw_prefix,
        instance_type=reclassify.instance_type,
        instance_count=reclassify.instance_count,
    )
    for member in ("TransformJobName", "ModelName"):
        del transform[member]
    transform["TransformInput"]["DataSource"]["S3DataSource"] = {
        "S3DataType": "S3Prefix",
        "S3Uri.$": "$.reclassify.input_uri",
    }
    del transform["TransformOutput"]["S3OutputPath"]
    transform["TransformOutput"]["S3OutputPath.$"] = "$.reclassify.output_uri"
    on_error = catch("NotifyReclassifyFailed")
    return {
        "PlanReclassify": {
            "Type": "Pass",
            "Parameters": {
                "input_uri.$": f"States.Format('{predictions}input/', {version})",
                "output_uri.$": f"States.Format('{predictions}output/', {version})",
                "model_name.$": f"States.Format('{settings.name_prefix}-batch-{{}}', "
                "$.run.short_id)",
            },
            "ResultPath": "$.reclassify",
            "Next": "WriteCatalogue",
        },
        "WriteCatalogue": {
            "Type": "Task",
            "Comment": "The catalogue (base data and admin products, minus deleted ones) as "
            "JSON Lines, photos named by their raw-zone keys.",
            "Resource": SYNC_PROCESSING_JOB,
            "Parameters": processing_job(
                settings,
                kind="catal",
                module="sagemaker_jobs.catalogue",
                role="CatalogueRoleArn",
                inputs=[s3_input("raw", "$.run.raw_uri", PREPARE_INPUT)],
                outputs=[s3_output("catalogue", "$.reclassify.input_uri", PREPARE_OUTPUT)],
                arguments=["--raw-prefix", settings.raw_prefix],
            ),
            "ResultSelector": {"job_name.$": "$.ProcessingJobName"},
            "ResultPath": "$.reclassify_catalogue",
            "Retry": job_retry(),
            "Catch": on_error,
            "Next": "CreateBatchModel",
        },
        "CreateBatchModel": aws_call(
            "arn:aws:states:::sagemaker:createModel",
            {
                "ModelName.$": "$.reclassify.model_name",
                "ExecutionRoleArn": sub("CatalogueRoleArn"),
                "PrimaryContainer": {
                    "Image": sub("ServingImageUri"),
                    "ModelDataUrl.$": "$.training.model_data_url",
                },
            },
            "ReclassifyCatalogue",
            result_selector={"arn.$": "$.ModelArn"},
            result_path="$.batch_model",
            catch_into="NotifyReclassifyFailed",
            comment="The deployed model's artifact and image, with the catalogue role.",
        ),
        "ReclassifyCatalogue": {
            "Type": "Task",
            "Comment": "One answer line per catalogue line (inference/batch.py), in order.",
            "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": {
                "TransformJobName.$": job_name(settings, "batch"),
                "ModelName.$": "$.reclassify.model_name",
                **transform,
            },
            "ResultSelector": {"job_name.$": "$.TransformJobName"},
            "ResultPath": "$.reclassify_transform",
            "Retry": job_retry(),
            "Catch": on_error,
            "Next": "NotifyDeployed",
        },
        "NotifyReclassifyFailed": notify(
            f"prodcat {settings.name_prefix}: catalogue not reclassified",
            "Run {} deployed model {}, which serves; reclassifying the catalogue with it "
            "failed: {}: {}. Predictions: {}. Execution: {}",
            "$.run.id, $.gate.decision.challenger_version, $.error.Error, $.error.Cause, "
            "$.reclassify.output_uri, $.run.console_url",
            "ReclassifyFailed",
        ),
        "ReclassifyFailed": {
            "Type": "Fail",
            "Error": "ReclassifyFailed",
            "Cause": "The new model serves, but the catalogue was not reclassified with it; the "
            "on-call topic has the details.",
        },
    }
