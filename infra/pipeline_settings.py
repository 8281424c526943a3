"""The state machines' static settings from a stage's config (cdk.json): one mapping for the
CDK constructs and for the local run (`prodcat pipeline run --local`)."""

from __future__ import annotations

from typing import Any

from infra.config import StageConfig
from prodcat_contracts.lake import DataLakeZones
from step_functions.drift_check import DriftCheckSettings, drift_check_definition
from step_functions.settings import (
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


def drift_check_settings(config: StageConfig) -> DriftCheckSettings:
    """The drift check's schedule and window from the stage's monitoring config."""
    monitoring = config.monitoring
    return DriftCheckSettings(
        schedule=monitoring.drift_check_schedule,
        lookback_hours=monitoring.drift_lookback_hours,
        min_samples=monitoring.drift_min_samples,
    )


def stage_drift_check_definition(config: StageConfig, zones: DataLakeZones) -> dict[str, Any]:
    """The drift check's ASL for one stage, as the monitoring stack deploys it (no synth: the
    images check and the service-contract tests read it from here)."""
    return drift_check_definition(
        name_prefix=config.prefix,
        stage=config.stage,
        threshold=config.monitoring.drift_score_threshold,
        reports_prefix=zones.reports,
        capture_prefix=zones.capture,
        settings=drift_check_settings(config),
    )
