"""The pipeline's catalogue reclassification, as each stage's definition holds it: only where
the stage config enables it, after the deploy is final, every task retried and caught into an
on-call notification that leaves the new model serving."""

from __future__ import annotations

import itertools
from typing import Any

from infra_helpers import cdk_context

from infra.config import load_stage_configs
from prodcat_contracts.lake import ZONES
from step_functions.definition import build_definition

TASKS = ("WriteCatalogue", "CreateBatchModel", "ReclassifyCatalogue")


def _states(stage: str) -> dict[str, dict[str, Any]]:
    from infra.constructs.training_pipeline_construct import definition_settings

    (config,) = load_stage_configs(cdk_context(), stage)
    states: dict[str, dict[str, Any]] = build_definition(definition_settings(config, ZONES))[
        "States"
    ]
    return states


def test_dev_does_not_reclassify_and_prod_does_after_publishing_the_production_reports() -> None:
    dev = _states("dev")
    assert dev["PublishProductionBaseline"]["Next"] == "NotifyDeployed"
    assert not set(TASKS) & set(dev)
    prod = _states("prod")
    order = ["PublishProductionBaseline", "PlanReclassify", *TASKS, "NotifyDeployed"]
    for before, after in itertools.pairwise(order):
        assert prod[before]["Next"] == after, before


def test_each_reclassify_task_retries_and_a_failure_pages_without_undoing_the_deploy() -> None:
    states = _states("prod")
    for name in TASKS:
        assert states[name]["Retry"], name
        for retry in states[name]["Retry"]:
            assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 2, name
        assert states[name]["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.error",
                "Next": "NotifyReclassifyFailed",
            }
        ], name
    notify = states["NotifyReclassifyFailed"]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Parameters"]["TopicArn"] == "${OnCallTopicArn}"
    assert "which serves" in notify["Parameters"]["Message.$"]
    assert states[notify["Next"]]["Type"] == "Fail"
    # Nothing on this path touches the endpoint or the package: the approved model stays.
    assert notify["Next"] == "ReclassifyFailed"


def test_the_catalogue_goes_from_the_raw_zone_to_predictions_of_the_deployed_version() -> None:
    states = _states("prod")
    plan = states["PlanReclassify"]["Parameters"]
    prefix = "s3://${DataLakeBucket}/models/predictions/{}/"
    assert plan["input_uri.$"] == (
        f"States.Format('{prefix}input/', $.gate.decision.challenger_version)"
    )
    assert plan["output_uri.$"].startswith(f"States.Format('{prefix}output/'")
    job = states["WriteCatalogue"]["Parameters"]
    assert job["AppSpecification"]["ContainerEntrypoint"][-1] == "sagemaker_jobs.catalogue"
    assert job["RoleArn"] == "${CatalogueRoleArn}"
    (source,) = job["ProcessingInputs"]
    assert source["S3Input"]["S3Uri.$"] == "$.run.raw_uri"
    (output,) = job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri.$"] == "$.reclassify.input_uri"
    model = states["CreateBatchModel"]["Parameters"]
    assert model["ExecutionRoleArn"] == "${CatalogueRoleArn}"  # not the endpoint's role
    assert model["PrimaryContainer"]["ModelDataUrl.$"] == "$.training.model_data_url"
    transform = states["ReclassifyCatalogue"]
    assert transform["Resource"] == "arn:aws:states:::sagemaker:createTransformJob.sync"
    params = transform["Parameters"]
    assert params["ModelName.$"] == "$.reclassify.model_name"
    assert params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri.$"] == (
        "$.reclassify.input_uri"
    )
    assert params["TransformOutput"]["S3OutputPath.$"] == "$.reclassify.output_uri"
    assert (params["TransformInput"]["SplitType"], params["BatchStrategy"]) == (
        "Line",
        "MultiRecord",
    )
    assert params["TransformOutput"]["AssembleWith"] == "Line"
    assert params["Environment"] == {
        "PRODCAT_DATA_LAKE_BUCKET": "${DataLakeBucket}",
        "PRODCAT_RAW_PREFIX": ZONES.raw,
    }
