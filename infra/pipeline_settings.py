"""The pipeline definition's static settings from a stage's config (cdk.json): one mapping for
the CDK construct and for the local run (`prodcat pipeline run --local`)."""

from __future__ import annotations

from infra.config import StageConfig
from prodcat_contracts.lake import DataLakeZones
from step_functions.definition import (
    DeploySettings,
    JobResources,
    PipelineDefinitionSettings,
    ReclassifySettings,
    ServerlessSettings,
)


def definition_settings(
    config: StageConfig, zones: DataLakeZones, rollback_alarm_names: tuple[str, ...]
) -> PipelineDefinitionSettings:
    ml = config.ml
    reclassify = config.pipeline.reclassify_catalogue
    return PipelineDefinitionSettings(
        name_prefix=config.prefix,
        endpoint_name=config.endpoint_name,
        raw_prefix=zones.raw,
        curated_prefix=zones.curated,
        artifacts_prefix=zones.artifacts,
        reports_prefix=zones.reports,
        processing=JobResources(
            instance_type=ml.processing.instance_type,
            volume_size_gb=ml.processing.volume_size_gb,
            max_runtime_seconds=ml.processing.max_runtime_minutes * 60,
        ),
        training=JobResources(
            instance_type=ml.training.instance_type,
            volume_size_gb=ml.training.volume_size_gb,
            max_runtime_seconds=ml.training.max_runtime_minutes * 60,
        ),
        hyperparameters=dict(ml.hyperparameters),
        serverless=ServerlessSettings(**ml.serverless.model_dump()),
        gate=config.pipeline.gate,
        deploy=DeploySettings(rollback_alarm_names=rollback_alarm_names),
        predictions_prefix=zones.predictions,
        reclassify=ReclassifySettings(
            instance_type=reclassify.instance_type, instance_count=reclassify.instance_count
        )
        if reclassify.enabled
        else None,
    )
