"""Both state machines against botocore's service models: what `cdk deploy` and the first run
would reject (unknown or missing members, bad enums, wrong types, out-of-range values, names
SageMaker refuses or already has), found here. The checker is tests/infra/botocore_contract.py;
the negative tests at the end prove it fails on each kind of mistake."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import botocore_contract as contract
import pytest
from infra_helpers import Synth, cdk_context, resources

from infra.config import ConfigError, StageConfig, load_stage_configs
from prodcat_contracts.lake import ZONES
from step_functions.definition import PLACEHOLDERS, PipelineDefinitionSettings, build_definition
from step_functions.render import substitute

ACCOUNT, REGION = "123456789012", "ap-southeast-2"
_ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}"


def _role(name: str) -> str:
    # CloudFormation's generated role names: <stack>-<logical id>-<suffix>, at most 64 chars.
    generated = f"prodcat-prod-ml-SageMakerRoles{name}Role1A2B3C4D"[:51] + "-AbCdEfGhIjKl"
    return f"arn:aws:iam::{ACCOUNT}:role/{generated}"


# The deploy-time values, in the form CDK renders them (DefinitionSubstitutions).
PIPELINE_VALUES = {
    "DataLakeBucket": "prodcat-prod-data-datalakebucket5f2a9c1e-1a2b3c4d5e6f",
    "PrepareRoleArn": _role("Prepare"),
    "EvaluateRoleArn": _role("Evaluate"),
    "TrainingRoleArn": _role("Train"),
    "ModelRoleArn": _role("Model"),
    "JobsImageUri": f"{_ECR}:{'a' * 64}",
    "ServingImageUri": f"{_ECR}:{'b' * 64}",
    "CodeVersion": "c" * 64,  # the jobs image's asset hash
    "ModelPackageGroupName": "prodcat-prod-models-1a2b3c4d",
    "GateFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
    "prodcat-prod-pipeline-TrainingPipelineGateFunct-AbCdEfGhIjKl",
    "SmokeFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
    "prodcat-prod-pipeline-TrainingPipelineSmokeFunc-AbCdEfGhIjKl",
    "OnCallTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:prodcat-prod-oncall-OnCallTopic1A2B3C4D-AbCdEfGh",
    "CatalogueRoleArn": _role("Catalogue"),
}
DRIFT_VALUES = {
    "DataLakeBucket": PIPELINE_VALUES["DataLakeBucket"],
    "DriftJobRoleArn": _role("DriftCheckJob"),
    "JobsImageUri": PIPELINE_VALUES["JobsImageUri"],
    "Region": REGION,
}


def _config(stage: str) -> StageConfig:
    (config,) = load_stage_configs(cdk_context(), stage)
    return config


def _longest_stage_config() -> StageConfig:
    """prod's settings under the longest stage name config accepts (12 characters)."""
    context = copy.deepcopy(cdk_context())
    stages = context["prodcat:stages"]
    longest, too_long = "s" * 12, "s" * 13
    stages[longest] = stages[too_long] = stages["prod"]
    with pytest.raises(ConfigError):
        load_stage_configs(context, too_long)
    (config,) = load_stage_configs(context, longest)
    return config


def _settings(config: StageConfig) -> PipelineDefinitionSettings:
    # Import here: training_pipeline_construct imports aws_cdk (jsii) at module level.
    from infra.constructs.training_pipeline_construct import definition_settings

    return definition_settings(config, ZONES)


def _pipeline(settings: PipelineDefinitionSettings) -> dict[str, Any]:
    assert set(PIPELINE_VALUES) == set(PLACEHOLDERS)
    return substitute(build_definition(settings), PIPELINE_VALUES)


def _drift_definition(config: StageConfig) -> dict[str, Any]:
    """The drift check's ASL for this stage, as the monitoring stack builds it (no synth)."""
    from infra.pipeline_settings import stage_drift_check_definition

    return stage_drift_check_definition(config, ZONES)


def _drift(config: StageConfig) -> dict[str, Any]:
    from step_functions.drift_check import PLACEHOLDERS as DRIFT_PLACEHOLDERS

    assert set(DRIFT_VALUES) == set(DRIFT_PLACEHOLDERS)
    text = json.dumps(_drift_definition(config))
    for name, value in DRIFT_VALUES.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text
    rendered: dict[str, Any] = json.loads(text)
    return rendered


def _tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in contract.iter_states(definition) if s["Type"] == "Task"}


# --- the real definitions --------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_pipeline_task_matches_its_apis_request(stage: str) -> None:
    definition = _pipeline(_settings(_config(stage)))
    assert contract.check_definition(definition) == []
    # All of them were looked at: the SageMaker jobs in the Parallel too.
    resources_used = {s["Resource"] for s in _tasks(definition).values()}
    assert {
        "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "arn:aws:states:::sagemaker:createModel",
        "arn:aws:states:::sagemaker:createEndpointConfig",
        "arn:aws:states:::sagemaker:createEndpoint",
        "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",
        "arn:aws:states:::aws-sdk:sfn:listExecutions",
        "arn:aws:states:::aws-sdk:s3:getObject",
        "arn:aws:states:::aws-sdk:s3:copyObject",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::sns:publish",
    } <= resources_used
    assert {"EvaluateChallenger", "EvaluateChampion"} <= set(_tasks(definition))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_drift_check_task_matches_create_processing_job(stage: str) -> None:
    definition = _drift(_config(stage))
    assert contract.check_definition(definition) == []
    (task,) = _tasks(definition).values()
    assert task["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"


def test_every_resource_is_a_real_operation() -> None:
    for definition in (_pipeline(_settings(_config("prod"))), _drift(_config("prod"))):
        for state in _tasks(definition).values():
            found = contract.integration(state["Resource"])
            assert found.operation in contract.service_model(found.service).operation_names
    sync = contract.integration("arn:aws:states:::sagemaker:createTrainingJob.sync")
    # A .sync job's result is the Describe* response: what ResultSelector reads from.
    assert (sync.operation, sync.result_operation) == ("CreateTrainingJob", "DescribeTrainingJob")
    sfn = contract.integration("arn:aws:states:::aws-sdk:sfn:listExecutions")
    assert (sfn.service, sfn.operation, sfn.pascal) == ("stepfunctions", "ListExecutions", True)


def test_the_definitions_checked_are_the_deployed_ones(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        (pipeline,) = resources(
            synth.template(stage, "pipeline"), "AWS::StepFunctions::StateMachine"
        ).values()
        props = pipeline["Properties"]
        assert json.loads(props["DefinitionString"]) == build_definition(_settings(_config(stage)))
        assert set(props["DefinitionSubstitutions"]) == set(PIPELINE_VALUES)
        (drift,) = resources(
            synth.template(stage, "monitoring"), "AWS::StepFunctions::StateMachine"
        ).values()
        props = drift["Properties"]
        assert json.loads(props["DefinitionString"]) == _drift_definition(_config(stage))
        assert set(props["DefinitionSubstitutions"]) == set(DRIFT_VALUES)


# --- the names one run generates -------------------------------------------------------------


def _longest_pipeline() -> dict[str, Any]:
    """The pipeline under the longest name prefix its settings accept (21 characters), with
    the longest stage config accepts for everything else (endpoint, alarms)."""
    settings = _settings(_longest_stage_config())
    longest = "p" * 21
    fields = settings.model_dump()
    PipelineDefinitionSettings.model_validate({**fields, "name_prefix": longest})
    with pytest.raises(ValueError):
        PipelineDefinitionSettings.model_validate({**fields, "name_prefix": longest + "p"})
    return _pipeline(settings.model_copy(update={"name_prefix": longest}))


# SageMaker names are unique per account, region and kind; a job's name stays taken after it
# failed, so every attempt of a job needs its own. Models and endpoint configs are made once
# per run (a failed Create* call makes nothing, and a retry may reuse the name).
_JOBS = {"CreateProcessingJob", "CreateTrainingJob", "CreateTransformJob"}


def _check_names(definition: dict[str, Any]) -> list[contract.GeneratedName]:
    names = contract.generated_names(definition)
    for name in names:
        assert isinstance(name.value, str), f"{name.state}: name not known from the run id"
        # Length and pattern as botocore's model has them (ProcessingJobName: 1-63,
        # [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; ModelName: ...).
        assert contract.check_value(name.value, name.shape, name.state) == [], name
        assert name.shape.metadata["max"] == 63 and len(name.value) <= 63
    together = contract.run_together(definition)
    for a in names:
        for b in names:
            if a.kind != b.kind or (a.state, a.retry_count) >= (b.state, b.retry_count):
                continue
            if a.state == b.state:
                if a.kind in _JOBS:
                    assert a.value != b.value, f"{a.state}: a retry reuses {a.value}"
                continue
            if frozenset((a.state, b.state)) in together:
                assert a.value != b.value, f"{a.state} and {b.state} both create {a.value}"
    return names


def test_one_runs_job_names_are_unique_and_within_sagemakers_limits() -> None:
    definition = _longest_pipeline()
    names = _check_names(definition)
    by_state = {(n.state, n.retry_count): n.value for n in names}
    short_id = contract.state_data(definition)["run"]["short_id"]
    assert len(short_id) == 20  # 8 + 12 hex digits of the run's UUID
    assert by_state[("EvaluateChallenger", 0)] == f"{'p' * 21}-evchal-{short_id}-0"
    assert by_state[("EvaluateChampion", 2)] == f"{'p' * 21}-evchamp-{short_id}-2"
    assert by_state[("ReclassifyCatalogue", 2)] == f"{'p' * 21}-batch-{short_id}-2"
    assert max(len(n.value) for n in names) <= 63
    # The Parallel's two evaluations: the regression this test was written for.
    assert frozenset(("EvaluateChallenger", "EvaluateChampion")) in contract.run_together(
        definition
    )
    assert {n.kind for n in names} == {
        "CreateProcessingJob",
        "CreateTrainingJob",
        "CreateTransformJob",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
    }


def test_first_model_and_challenger_evaluations_are_alternatives_not_a_collision() -> None:
    together = contract.run_together(_longest_pipeline())
    assert frozenset(("EvaluateChallenger", "EvaluateFirstModel")) not in together
    assert frozenset(("Prepare", "EvaluateFirstModel")) in together


def test_drift_job_names_fit_and_never_meet_the_pipelines() -> None:
    config = _longest_stage_config()
    drift = _check_names(_drift(config))
    assert {n.state for n in drift} == {"CheckDrift"}
    assert max(len(n.value) for n in drift) <= 63
    # Both machines create processing jobs in one account and region: a pipeline job's name
    # never starts like a drift job's (different kinds right after the shared prefix).
    pipeline = contract.generated_names(_pipeline(_settings(config)))
    drift_head = f"{config.prefix}-drift-"
    assert all(n.value.startswith(drift_head) for n in drift)
    assert not any(str(n.value).startswith(drift_head) for n in pipeline)


# --- the checker fails on each kind of mistake -----------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _params(definition: dict[str, Any], state: str) -> dict[str, Any]:
    params: dict[str, Any] = _tasks(definition)[state]["Parameters"]
    return params


def _rename(state: str, old: str, new: str) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        params = _params(definition, state)
        params[new] = params.pop(old)

    return mutate


def _set(state: str, path: tuple[str | int, ...], value: Any) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        target: Any = _params(definition, state)
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _replace(
    state: str, path: tuple[str | int, ...], key: str | None, value: Any = None
) -> Mutation:
    """Take `path`'s last key out of a task's Parameters; put `key: value` in its place."""

    def mutate(definition: dict[str, Any]) -> None:
        target: Any = _params(definition, state)
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]
        if key is not None:
            target[key] = value

    return mutate


def _resource(state: str, resource: str) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        _tasks(definition)[state]["Resource"] = resource

    return mutate


def _result_selector(state: str, key: str, path: str) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        _tasks(definition)[state]["ResultSelector"][key] = path

    return mutate


BROKEN: dict[str, tuple[Mutation, str]] = {
    "unknown member": (
        _rename("Train", "StoppingCondition", "StopCondition"),
        "CreateTrainingJobRequest has no member 'StopCondition'",
    ),
    "unknown nested member": (
        _set("Prepare", ("ProcessingResources", "ClusterConfig", "VolumeSize"), 30),
        "ProcessingClusterConfig has no member 'VolumeSize'",
    ),
    "unknown dynamic member": (
        _rename("CreateModel", "ModelName.$", "Name.$"),
        "CreateModelInput has no member 'Name'",
    ),
    "camelCase member of an SDK integration": (
        _rename("ListRunningRuns", "StatusFilter", "statusFilter"),
        "has no member 'statusFilter' (did you mean StatusFilter?)",
    ),
    "member Step Functions does not pass": (
        _set("Gate", ("LogType",), "Tail"),
        "Step Functions does not pass LogType",
    ),
    "missing required member": (
        _replace("Train", ("RoleArn",), None),
        "CreateTrainingJobRequest requires RoleArn",
    ),
    "missing required nested member": (
        _replace("CreateEndpointConfig", ("ProductionVariants", 0, "VariantName"), None),
        "ProductionVariant requires VariantName",
    ),
    "bad enum": (
        _set("Prepare", ("ProcessingInputs", 0, "S3Input", "S3InputMode"), "Files"),
        "'Files' is not one of ProcessingS3InputMode",
    ),
    "bad enum in an SDK integration": (
        _set("ListRunningRuns", ("StatusFilter",), "Running"),
        "'Running' is not one of ExecutionStatus",
    ),
    "string for an integer": (
        _set("Train", ("ResourceConfig", "VolumeSizeInGB"), "30"),
        "'30' is not an integer",
    ),
    "object for a list": (
        _set("Prepare", ("AppSpecification", "ContainerEntrypoint"), {"python": "-m"}),
        "dict for list ContainerEntrypoint",
    ),
    "integer for a string": (
        _set("CreateEndpointConfig", ("ProductionVariants", 0, "VariantName"), 1),
        "1 is not a string",
    ),
    "over a maximum": (
        _set(
            "CreateEndpointConfig",
            ("ProductionVariants", 0, "ServerlessConfig", "MaxConcurrency"),
            500,
        ),
        "over ServerlessMaxConcurrency's maximum 200",
    ),
    "under a minimum": (
        _set("Train", ("StoppingCondition", "MaxRuntimeInSeconds"), 0),
        "under MaxRuntimeInSeconds's minimum 1",
    ),
    "static name against the pattern": (
        _replace("Prepare", ("ProcessingJobName.$",), "ProcessingJobName", "prodcat_prep"),
        "does not match ProcessingJobName's pattern",
    ),
    "job name over 63 characters": (
        _set(
            "Train",
            ("TrainingJobName.$",),
            "States.Format('prodcat-a-stage-name-longer-than-config-allows-train-{}-{}', $.run.short_id, "
            "$$.State.RetryCount)",
        ),
        "over TrainingJobName's maximum 63",
    ),
    "a path no state writes": (
        _set(
            "Train", ("InputDataConfig", 0, "DataSource", "S3DataSource", "S3Uri.$"), "$.run.train"
        ),
        "nothing writes 'train' there",
    ),
    "a traced value of the wrong type": (
        _replace("Train", ("ResourceConfig", "VolumeSizeInGB"), "VolumeSizeInGB.$", "$.run.id"),
        "(traced): '5f0c8a3e-7b1d-4c2a-9e6f-0a1b2c3d4e5f' is not an integer",
    ),
    "a result member the API does not return": (
        _set("CreateModel", ("ModelName.$",), "$.model.name"),
        "nothing writes 'name' there",
    ),
    "both static and dynamic": (
        _set("CreateModel", ("ModelName",), "prodcat-prod-model"),
        "ModelName given twice",
    ),
    "States.Format with too few arguments": (
        _set("Prepare", ("ProcessingJobName.$",), "States.Format('prodcat-{}-{}', $.run.short_id)"),
        "the template has 2 {} for 1 arguments",
    ),
    "a Lambda payload path no state writes": (
        _set("Gate", ("Payload", "challenger_metrics_uri.$"), "$.evaluation.challenger_uri"),
        "nothing writes 'challenger_uri' there",
    ),
    "SNS subject over 100 characters": (
        _set("NotifyFailure", ("Subject",), "x" * 100),
        "SNS wants printable ASCII, under 100 characters",
    ),
    "ResultSelector reading a member the response lacks": (
        _result_selector("Train", "model_data_url.$", "$.ModelArtifacts.S3Uri"),
        "ModelArtifacts has no member 'S3Uri'",
    ),
    "unknown optimized integration": (
        _resource("CreateModel", "arn:aws:states:::sagemaker:createModels"),
        "not an optimized integration",
    ),
    "an SDK action botocore does not have": (
        _resource("DescribeEndpoint", "arn:aws:states:::aws-sdk:sagemaker:describeEndpoints"),
        "sagemaker has no operation DescribeEndpoints",
    ),
    "an SDK service botocore does not have": (
        _resource("ReadDataset", "arn:aws:states:::aws-sdk:s4:getObject"),
        "botocore knows no service 's4'",
    ),
    ".sync on an API that is not a job": (
        _resource("CreateModel", "arn:aws:states:::sagemaker:createModel.sync"),
        "does not support the .sync pattern",
    ),
    ".sync on an SDK integration": (
        _resource("UpdateEndpoint", "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint.sync"),
        "AWS SDK integrations do not support .sync",
    ),
}


@pytest.mark.parametrize("mistake", sorted(BROKEN))
def test_the_checker_finds(mistake: str) -> None:
    definition = _pipeline(_settings(_config("prod")))
    mutate, expected = BROKEN[mistake]
    mutate(definition)
    problems = contract.check_definition(definition)
    # The unbroken definition has no problem (above): each one found comes from this mistake.
    assert any(expected in p for p in problems), problems


def test_the_checker_finds_the_evaluation_name_collision_it_was_written_for() -> None:
    definition = _longest_pipeline()
    champion = _params(definition, "EvaluateChampion")
    champion["ProcessingJobName.$"] = _params(definition, "EvaluateChallenger")[
        "ProcessingJobName.$"
    ]
    with pytest.raises(AssertionError, match="EvaluateChallenger and EvaluateChampion both"):
        _check_names(definition)


def test_the_checker_finds_a_drift_job_name_over_63_characters() -> None:
    definition = _drift(_config("prod"))
    _params(definition, "CheckDrift")["ProcessingJobName.$"] = (
        "States.Format('prodcat-prod-drift-check-of-the-whole-day-{}-{}-{}', $.check.short_id, "
        "$.check.day, $$.State.RetryCount)"
    )
    problems = contract.check_definition(definition)
    assert any("over ProcessingJobName's maximum 63" in p for p in problems), problems
