"""The retrain state machine executed by moto's Step Functions interpreter, along every path.

Each test asserts the states entered (get_execution_history) and what the run left behind:
on-call messages, objects in the lake, packages in the registry, the endpoint's config.
Jobs run the real prepare/train/evaluate code on the lake in moto (pipeline_harness).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pipeline_lake as lake
from pipeline_harness import (
    ALARMS,
    BUCKET,
    CODE_VERSION,
    ENDPOINT,
    GROUP,
    Moto,
    jpeg,
    settings,
)

from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY, PRODUCTION_METRICS_KEY

TEST_SHARE = settings().test_share
START = ["NameRun", "PlanRun", "ListRunningRuns", "AnotherRunActive?"]
TRAIN = ["Prepare", "ReadDataset", "Train", "LookupChampion", "HasChampion"]
FIRST_EVALUATION = ["EvaluateFirstModel", "NoChampionToCompare", "Gate", "Promote?"]
BOTH_EVALUATED = ["DescribeChampion", "EvaluateBoth", "Gate", "Promote?"]
DEPLOY = [
    "RegisterCandidate",
    "CreateModel",
    "CreateEndpointConfig",
    "FindEndpoint",
    "EndpointExists?",
]
SERVE = ["WaitForEndpoint", "DescribeEndpoint", "EndpointReady?", "SmokeTest", "SmokePassed?"]
PUBLISH = ["ApproveChallenger", "PublishProductionMetrics", "PublishProductionBaseline"]


def seed(moto: Moto, catalog: Path, *, degraded: bool) -> None:
    """The base data, one admin product and one seller label (both with photos), and for a
    degraded lake the tombstones that cost the model most of its classes."""
    s3 = moto.pipeline.s3
    lake.seed_base(s3, BUCKET, catalog)
    lake.add_product(s3, BUCKET, "A-77", "Console Nintendo Switch neuve", 60, jpeg((20, 20, 200)))
    lake.add_feedback(s3, BUCKET, "req-1", "Roman policier broché Folio", 10, jpeg((200, 200, 20)))
    if degraded:
        assert lake.delete_most_classes(s3, BUCKET, catalog, TEST_SHARE) > 10


def metrics_of(moto: Moto, run: str, who: str = "challenger") -> dict[str, object]:
    body = moto.pipeline.object(f"models/reports/{run}/{who}/metrics.json")
    assert body is not None, f"no {who} metrics for run {run}"
    parsed: dict[str, object] = json.loads(body)
    return parsed


def only_notification(moto: Moto) -> dict[str, str]:
    (message,) = moto.pipeline.notifications()
    return message


def test_first_model_deploys_then_a_better_one_replaces_it(moto: Moto, catalog: Path) -> None:
    seed(moto, catalog, degraded=True)
    first = moto.pipeline.run("first")

    assert first.status == "SUCCEEDED", first.error
    assert first.entered == [
        *START,
        *TRAIN,
        *FIRST_EVALUATION,
        *DEPLOY,
        "NoPreviousEndpoint",
        "CreateEndpoint",
        *SERVE,
        *PUBLISH,
        "NotifyDeployed",
        "Deployed",
    ]
    run1 = first.run_id
    config1 = moto.pipeline.endpoint_config()
    assert config1 is not None and config1.startswith("prodcat-test-")
    # The versioned training set and its lineage record.
    manifest = json.loads(moto.pipeline.object(f"curated/{run1}/dataset.json") or b"{}")
    assert manifest["code_version"] == CODE_VERSION and manifest["run_id"] == run1
    assert manifest["removed"]["tombstoned"] > 10
    assert manifest["sources"]["products"]["kept"] == 1
    assert manifest["sources"]["feedback"]["kept"] == 1
    # Registered with metrics and lineage, approved once it served and passed the smoke test.
    # (The lineage is asserted as sent: moto's UpdateModelPackage drops the
    # CustomerMetadataProperties that SageMaker keeps.)
    (package,) = moto.pipeline.packages()
    assert package["ModelApprovalStatus"] == "Approved"
    assert "smoke test passed on 4 known listings" in package["ApprovalDescription"]
    registered = first.request("createModelPackage")
    assert registered["ModelApprovalStatus"] == "PendingManualApproval"
    meta = registered["CustomerMetadataProperties"]
    assert meta["data_version"] == manifest["data_version"]
    assert meta["code_version"] == CODE_VERSION and meta["run_id"] == run1
    assert meta["model_version"] == metrics_of(moto, run1)["model_version"]
    assert package["MetadataProperties"] == {"CommitId": CODE_VERSION, "GeneratedBy": first.arn}
    quality = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert quality == f"s3://{BUCKET}/models/reports/{run1}/challenger/metrics.json"
    # The smoke test sent the served model (the real inference server) the 4 known listings
    # the evaluation picked from the test rows: 2 with their photo, 2 as text only.
    cases = json.loads(
        moto.pipeline.object(f"models/reports/{run1}/challenger/smoke_cases.json") or b"{}"
    )
    assert cases["model_version"] == meta["model_version"]
    assert [c["listing"]["photo"] is not None for c in cases["cases"]] == [True, True, False, False]
    assert len(moto.served.invocations) == 4
    assert moto.pipeline.object(PRODUCTION_METRICS_KEY) == moto.pipeline.object(
        f"models/reports/{run1}/challenger/metrics.json"
    )
    assert moto.pipeline.object(PRODUCTION_BASELINE_KEY) == moto.pipeline.object(
        f"models/reports/{run1}/challenger/baseline.json"
    )
    deployed = only_notification(moto)
    assert "new model in service" in deployed["subject"]
    assert package["ModelPackageArn"] in deployed["message"]
    assert manifest["data_version"] in deployed["message"]
    assert "console.aws.amazon.com/states" in deployed["message"]

    # The products come back: more data, a better model, deployed by UpdateEndpoint.
    assert lake.restore_all(moto.pipeline.s3, BUCKET) > 10
    second = moto.pipeline.run("second")

    assert second.status == "SUCCEEDED", moto.pipeline.notifications()
    assert second.path_through(
        *TRAIN,
        *BOTH_EVALUATED,
        *DEPLOY,
        "RememberPreviousConfig",
        "UpdateEndpoint",
        *SERVE,
        *PUBLISH,
        "NotifyDeployed",
        "Deployed",
    )
    assert {"EvaluateChallenger", "EvaluateChampion"} <= set(second.entered)
    run2 = second.run_id
    champion, challenger = metrics_of(moto, run2, "champion"), metrics_of(moto, run2)
    assert champion["model_version"] == metrics_of(moto, run1)["model_version"]
    assert challenger["text_only"]["weighted_f1"] > champion["text_only"]["weighted_f1"] + 0.02  # type: ignore[index]
    (update,) = moto.jobs.endpoint_updates
    assert update["EndpointName"] == ENDPOINT
    policy = update["DeploymentConfig"]
    assert policy["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert [a["AlarmName"] for a in policy["AutoRollbackConfiguration"]["Alarms"]] == list(ALARMS)
    assert moto.pipeline.endpoint_config() not in (None, config1)
    assert [p["ModelApprovalStatus"] for p in moto.pipeline.packages()] == ["Approved", "Approved"]
    production = json.loads(moto.pipeline.object(PRODUCTION_METRICS_KEY) or b"{}")
    assert production["model_version"] == challenger["model_version"]
    assert "new model in service" in only_notification(moto)["subject"]


def test_a_worse_model_is_registered_rejected_and_not_deployed(moto: Moto, catalog: Path) -> None:
    seed(moto, catalog, degraded=False)
    assert moto.pipeline.run("good").status == "SUCCEEDED"
    config = moto.pipeline.endpoint_config()
    production = moto.pipeline.object(PRODUCTION_METRICS_KEY)
    moto.pipeline.notifications()

    lake.delete_most_classes(moto.pipeline.s3, BUCKET, catalog, TEST_SHARE)
    worse = moto.pipeline.run("worse")

    assert worse.status == "SUCCEEDED", worse.error
    assert worse.entered[-4:] == ["Promote?", "RegisterRejected", "NotifyRejected", "NotPromoted"]
    assert worse.path_through(*TRAIN, *BOTH_EVALUATED)
    assert not {"CreateModel", "UpdateEndpoint", "SmokeTest"} & set(worse.entered)
    assert moto.jobs.endpoint_updates == []
    assert moto.pipeline.endpoint_config() == config
    assert moto.pipeline.object(PRODUCTION_METRICS_KEY) == production
    approved, rejected = moto.pipeline.packages()
    assert (approved["ModelApprovalStatus"], rejected["ModelApprovalStatus"]) == (
        "Approved",
        "Rejected",
    )
    run = worse.run_id
    assert rejected["CustomerMetadataProperties"]["run_id"] == run  # never updated: intact
    assert "vs champion 0." in rejected["CustomerMetadataProperties"]["gate"]
    assert rejected["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        f"{run}/challenger/metrics.json"
    )
    message = only_notification(moto)
    assert "challenger rejected" in message["subject"]
    assert "does not beat the champion" in message["message"]
    assert rejected["ModelPackageArn"] in message["message"]
    assert f"s3://{BUCKET}/models/reports/{run}/challenger/" in message["message"]


def test_a_failing_training_job_is_retried_then_reported(moto: Moto, catalog: Path) -> None:
    seed(moto, catalog, degraded=False)
    moto.jobs.fail_training = "AlgorithmError: CUDA out of memory"
    failed = moto.pipeline.run("broken")

    assert failed.status == "FAILED" and failed.error == "PipelineFailed"
    assert failed.entered == [
        *START,
        "Prepare",
        "ReadDataset",
        "Train",
        "NotifyFailure",
        "PipelineFailed",
    ]
    # Retried with backoff, each attempt under a fresh job name.
    names = [r["TrainingJobName"] for r in moto.jobs.training_requests]
    assert len(names) == 3 and len(set(names)) == 3
    assert [n.rsplit("-", 1)[1] for n in names] == ["0", "1", "2"]
    assert moto.pipeline.packages() == [] and moto.pipeline.endpoint_config() is None
    message = only_notification(moto)
    assert "pipeline failed" in message["subject"]
    assert "CUDA out of memory" in message["message"]
    assert f"s3://{BUCKET}/curated/{failed.run_id}/" in message["message"]
    assert "console.aws.amazon.com/states" in message["message"]


def test_a_deploy_that_fails_its_smoke_test_is_rolled_back(moto: Moto, catalog: Path) -> None:
    seed(moto, catalog, degraded=True)
    assert moto.pipeline.run("first").status == "SUCCEEDED"
    config = moto.pipeline.endpoint_config()
    production = moto.pipeline.object(PRODUCTION_METRICS_KEY)
    serving = moto.served.model_data_url(ENDPOINT)
    moto.pipeline.notifications()
    # The next model's container cannot serve (every invocation answers 500).
    moto.served.healthy_only = {serving}

    lake.restore_all(moto.pipeline.s3, BUCKET)
    bad = moto.pipeline.run("unservable")

    assert bad.status == "FAILED" and bad.error == "DeployRolledBack"
    assert bad.path_through(
        "UpdateEndpoint",
        *SERVE,
        "SmokeFailed",
        "RejectChallenger",
        "RestorePrevious?",
        "RestorePreviousConfig",
        "WaitForRestore",
        "DescribeRestoredEndpoint",
        "Restored?",
        "NotifyRolledBack",
        "RolledBack",
    )
    assert "ApproveChallenger" not in bad.entered
    deploy, restore = moto.jobs.endpoint_updates
    assert deploy["EndpointConfigName"] != config
    assert restore == {"EndpointName": ENDPOINT, "EndpointConfigName": config}
    assert moto.pipeline.endpoint_config() == config
    assert moto.pipeline.object(PRODUCTION_METRICS_KEY) == production
    approved, rejected = moto.pipeline.packages()
    assert approved["ModelApprovalStatus"] == "Approved"
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert "SmokeTestFailed" in rejected["ApprovalDescription"]
    message = only_notification(moto)
    assert "deploy rolled back" in message["subject"]
    assert "ModelError" in message["message"] and str(config) in message["message"]


def test_an_auto_rollback_by_sagemaker_rejects_the_model(moto: Moto, catalog: Path) -> None:
    seed(moto, catalog, degraded=True)
    assert moto.pipeline.run("first").status == "SUCCEEDED"
    config = moto.pipeline.endpoint_config()
    moto.pipeline.notifications()
    # An endpoint alarm fires during the deployment: SageMaker keeps the old fleet.
    moto.pipeline.cloudwatch.set_alarm_state(
        AlarmName=ALARMS[0], StateValue="ALARM", StateReason="5xx during the bake"
    )

    lake.restore_all(moto.pipeline.s3, BUCKET)
    rolled = moto.pipeline.run("alarmed")

    assert rolled.status == "FAILED" and rolled.error == "DeployRolledBack"
    assert rolled.path_through(
        "UpdateEndpoint",
        "DescribeEndpoint",
        "EndpointReady?",
        "RolledBackBySageMaker",
        "RejectChallenger",
        "RestorePrevious?",
        "NotifyRolledBack",
        "RolledBack",
    )
    assert not {"SmokeTest", "RestorePreviousConfig"} & set(rolled.entered)
    assert moto.pipeline.endpoint_config() == config
    assert [p["ModelApprovalStatus"] for p in moto.pipeline.packages()] == ["Approved", "Rejected"]
    message = only_notification(moto)
    assert "EndpointRolledBack" in message["message"] and ALARMS[0] in message["message"]


def test_a_first_deploy_that_fails_its_smoke_test_deletes_the_endpoint(
    moto: Moto, catalog: Path
) -> None:
    seed(moto, catalog, degraded=True)
    moto.served.healthy_only = set()
    failed = moto.pipeline.run("first")

    assert failed.status == "FAILED" and failed.error == "DeployRolledBack"
    assert failed.path_through(
        "CreateEndpoint", *SERVE, "SmokeFailed", "RejectChallenger", "RestorePrevious?"
    )
    assert failed.entered[-3:] == ["DeleteEndpoint", "NotifyRolledBack", "RolledBack"]
    assert moto.pipeline.endpoint_config() is None
    assert moto.pipeline.object(PRODUCTION_METRICS_KEY) is None
    assert [p["ModelApprovalStatus"] for p in moto.pipeline.packages()] == ["Rejected"]


def test_a_run_is_refused_while_another_is_in_progress(moto: Moto, catalog: Path) -> None:
    seed(moto, catalog, degraded=True)
    moto.jobs.hold_prepare = threading.Event()
    first = moto.pipeline.start("scheduled")
    assert moto.jobs.prepare_started.wait(30)

    refused = moto.pipeline.wait(moto.pipeline.start("by-hand"))

    assert refused.status == "SUCCEEDED"
    assert refused.entered == [
        *START,
        "FindOldestRun",
        "OlderRunActive?",
        "NotifyAlreadyRunning",
        "AlreadyRunning",
    ]
    assert len(moto.jobs.processing_requests) == 1  # the first run's Prepare only
    message = only_notification(moto)
    assert "refused" in message["subject"] and first in message["message"]

    moto.jobs.hold_prepare.set()
    finished = moto.pipeline.wait(first)
    assert finished.status == "SUCCEEDED" and finished.entered[-1] == "Deployed"
    assert "FindOldestRun" not in finished.entered
    assert [p["ModelPackageGroupName"] for p in moto.pipeline.packages()] == [GROUP]


def test_the_definition_under_test_is_the_deployed_one_but_for_the_swapped_resources() -> None:
    """The moto rendering changes Resources (and sleeps) only: same states, same transitions."""
    from pipeline_harness import DOUBLES, definition_for_moto, placeholders

    from step_functions.definition import build_definition
    from step_functions.render import iter_states, substitute

    deployed = substitute(build_definition(settings()), placeholders())
    tested = definition_for_moto()
    a, b = dict(iter_states(deployed)), dict(iter_states(tested))
    assert a.keys() == b.keys()
    for name, state in a.items():
        other = b[name]
        for key in (
            "Type",
            "Next",
            "Choices",
            "Default",
            "Catch",
            "Parameters",
            "ResultSelector",
            "ResultPath",
        ):
            assert state.get(key) == other.get(key), (name, key)
        if state.get("Resource") in DOUBLES:
            assert other["Resource"].endswith(DOUBLES[state["Resource"]])
        else:
            assert state.get("Resource") == other.get("Resource"), name
