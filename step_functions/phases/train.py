"""Prepare this run's training set, then train: Prepare (processing: raw zone ->
curated/<run>/, dataset.json) -> ReadDataset -> Train -> LookupChampion (phases/gate.py)."""

from __future__ import annotations

from prodcat_contracts import job_env
from step_functions.asl import (
    SYNC_PROCESSING_JOB,
    State,
    aws_call,
    catch,
    job_retry,
    s3_input,
    s3_output,
)
from step_functions.phases.tasks import job_name, processing_job
from step_functions.settings import (
    PREPARE_INPUT,
    PREPARE_OUTPUT,
    PipelineDefinitionSettings,
    sub,
)


def train_states(settings: PipelineDefinitionSettings, bucket: str) -> dict[str, State]:
    return {
        "Prepare": {
            "Type": "Task",
            "Comment": "Build this run's versioned training set (train/test by id, dataset.json).",
            "Resource": SYNC_PROCESSING_JOB,
            "Parameters": processing_job(
                settings,
                kind="prep",
                module="sagemaker_jobs.prepare",
                role="PrepareRoleArn",
                inputs=[s3_input("raw", "$.run.raw_uri", PREPARE_INPUT)],
                outputs=[s3_output("curated", "$.run.curated_uri", PREPARE_OUTPUT)],
                arguments=[
                    "--test-share",
                    str(settings.test_share),
                    "--validation-share",
                    str(settings.validation_share),
                    "--raw-prefix",
                    settings.raw_prefix,
                ],
            ),
            "ResultSelector": {"job_name.$": "$.ProcessingJobName"},
            "ResultPath": "$.prepare",
            "Retry": job_retry(),
            "Catch": catch(),
            "Next": "ReadDataset",
        },
        "ReadDataset": aws_call(
            "arn:aws:states:::aws-sdk:s3:getObject",
            {"Bucket": bucket, "Key.$": "$.run.dataset_key"},
            "Train",
            result_selector={"manifest.$": "States.StringToJson($.Body)"},
            result_path="$.dataset",
            comment="The data version and code version of the training set, for the registry.",
        ),
        "Train": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": job_name(settings, "train"),
                "RoleArn": sub("TrainingRoleArn"),
                "AlgorithmSpecification": {
                    "TrainingImage": sub("JobsImageUri"),
                    "TrainingInputMode": "File",
                    "ContainerEntrypoint": ["python", "-m", "sagemaker_jobs.train"],
                },
                "HyperParameters": dict(settings.hyperparameters),
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri.$": "$.run.train_uri",
                                "S3DataDistributionType": "FullyReplicated",
                            }
                        },
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/{settings.artifacts_prefix}"},
                "ResourceConfig": {
                    "InstanceCount": 1,
                    "InstanceType": settings.training.instance_type,
                    "VolumeSizeInGB": settings.training.volume_size_gb,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": settings.training.max_runtime_seconds},
                "RetryStrategy": {"MaximumRetryAttempts": max(settings.training_retry_attempts, 1)},
                "Environment": {
                    f"{job_env.RUN_ID}.$": "$.run.id",
                    job_env.CODE_VERSION: sub("CodeVersion"),
                },
            },
            "ResultSelector": {
                "job_name.$": "$.TrainingJobName",
                "model_data_url.$": "$.ModelArtifacts.S3ModelArtifacts",
            },
            "ResultPath": "$.training",
            "Retry": job_retry(),
            "Catch": catch(),
            "Next": "LookupChampion",
        },
    }
