"""The definition's static settings from a stage's config: one mapping for the CDK construct
and for the local run (`prodcat pipeline run --local`)."""

from __future__ import annotations

from typing import Protocol

from infra.config import StageConfig
from step_functions.definition import (
    DeploySettings,
    GatePolicy,
    JobResources,
    PipelineDefinitionSettings,
    ReclassifySettings,
    ServerlessSettings,
)


class LakePrefixes(Protocol):
    """The data lake zones the pipeline reads and writes (infra DataLakeZones)."""

    @property
    def raw(self) -> str: ...
    @property
    def curated(self) -> str: ...
    @property
    def artifacts(self) -> str: ...
    @property
    def reports(self) -> str: ...
    @property
    def predictions(self) -> str: ...


def definition_settings(
    config: StageConfig, zones: LakePrefixes, rollback_alarm_names: tuple[str, ...]
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
        gate=GatePolicy(**config.pipeline.gate.model_dump()),
        deploy=DeploySettings(rollback_alarm_names=rollback_alarm_names),
        predictions_prefix=zones.predictions,
        reclassify=ReclassifySettings(
            instance_type=reclassify.instance_type, instance_count=reclassify.instance_count
        )
        if reclassify.enabled
        else None,
    )
