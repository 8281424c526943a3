"""What the retraining pipeline's definition is rendered from: the static settings (from the
stage config, infra/pipeline_settings.py) and the deploy-time placeholders (filled by
CloudFormation's DefinitionSubstitutions, or by step_functions/render.py off AWS); and the
container paths its jobs are given. The keys it shares with the jobs and the drift check, and
the gate policy, are contracts: prodcat_contracts/lake.py and gate.py."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from prodcat_contracts.gate import GatePolicy
from step_functions.asl import placeholder

# Deploy-time values, substituted by CloudFormation (DefinitionSubstitutions).
PLACEHOLDERS = (
    "DataLakeBucket",
    "PrepareRoleArn",
    "EvaluateRoleArn",
    "TrainingRoleArn",
    "ModelRoleArn",
    "JobsImageUri",
    "ServingImageUri",
    "CodeVersion",
    "ModelPackageGroupName",
    "GateFunctionArn",
    "SmokeFunctionArn",
    "OnCallTopicArn",
    "CatalogueRoleArn",
)

# Container paths: the SageMaker contract that sagemaker_jobs/ implements.
PREPARE_INPUT = "/opt/ml/processing/input"
PREPARE_OUTPUT = "/opt/ml/processing/output"
EVALUATE_MODEL = "/opt/ml/processing/model"
EVALUATE_TEST = "/opt/ml/processing/test"
EVALUATE_OUTPUT = "/opt/ml/processing/evaluation"


def sub(name: str) -> str:
    """The pipeline's placeholder `name` (a KeyError for a name it does not substitute)."""
    if name not in PLACEHOLDERS:
        raise KeyError(name)
    return placeholder(name)


class JobResources(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: str
    volume_size_gb: int = Field(ge=1)
    max_runtime_seconds: int = Field(ge=60)


class ServerlessSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_size_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None


class DeploySettings(BaseModel):
    """UpdateEndpoint's blue/green policy. The old fleet keeps serving until the new one is
    healthy and the bake time is over; an alarm in ALARM during the bake rolls SageMaker back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rollback_alarm_names: tuple[str, ...] = Field(min_length=1, max_length=10)
    bake_seconds: int = Field(default=600, ge=0, le=3600)
    timeout_seconds: int = Field(default=3600, ge=600, le=28800)


class ReclassifySettings(BaseModel):
    """After a deploy, classify the whole catalogue with the new model (Batch Transform)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: str
    instance_count: int = Field(default=1, ge=1, le=20)


class PipelineDefinitionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")
    endpoint_name: str
    raw_prefix: str
    curated_prefix: str
    artifacts_prefix: str
    reports_prefix: str
    processing: JobResources
    training: JobResources
    hyperparameters: dict[str, str]
    serverless: ServerlessSettings
    gate: GatePolicy
    deploy: DeploySettings
    test_share: float = Field(default=0.15, gt=0, lt=0.5)
    validation_share: float = Field(default=0.0, ge=0, lt=0.5)
    smoke_cases: int = Field(default=8, ge=1, le=32)
    training_retry_attempts: int = Field(default=2, ge=0, le=30)
    endpoint_poll_seconds: int = Field(default=60, ge=5)
    predictions_prefix: str = "models/predictions/"
    reclassify: ReclassifySettings | None = None
