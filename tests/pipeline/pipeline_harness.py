"""The retrain state machine run by moto's Step Functions interpreter (in-process mock_aws), for
the pipeline tests: the local runtime's stand-ins (local_runtime/stand_ins.py, local_runtime/
jobs.py) with what the tests add on top of them:

- speed-ups: train and evaluate cached for the session by the content of their inputs (they are
  deterministic: a session trains each distinct dataset once); retries 1 s apart, no waits;
- fault injection: a training job that fails, a Prepare held until the test lets it go, an
  auto-rollback alarm in ALARM, an endpoint whose container answers 500 (`healthy_only`);
- observation: every job request, endpoint update and invocation recorded; the executions'
  states, the on-call messages, the registry and the lake read back (`MotoPipeline`).

The smoke test talks to the real inference server (inference.server) loaded with the model
the endpoint's config names in moto (moto's invoke_endpoint returns canned bytes). Everything
else (Pass/Choice/Wait/Parallel, retries and catches, intrinsic functions, SNS, S3 CopyObject,
the SageMaker registry and endpoint APIs) is moto's own.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import logging
import tempfile
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import boto3
import httpx
from botocore.exceptions import ClientError

from local_runtime import jobs, stand_ins
from local_runtime.pipeline import drain_inbox, follow_execution
from local_runtime.stand_ins import InProcessLambdas, create_pipeline_resources
from prodcat_contracts.gate import GatePolicy
from prodcat_contracts.lake import ZONES, split_s3_uri
from sagemaker_jobs.model_archive import fetch_model
from step_functions.definition import (
    DeploySettings,
    JobResources,
    PipelineDefinitionSettings,
    ServerlessSettings,
    build_definition,
)
from step_functions.render import task_resources

REGION = "eu-west-3"
ACCOUNT = "123456789012"
PREFIX = "prodcat-test"
BUCKET = "prodcat-test-lake"
GROUP = f"{PREFIX}-models"
ENDPOINT = f"{PREFIX}-predict"
STATE_MACHINE = f"{PREFIX}-retrain"
ALARMS = (f"{PREFIX}-endpoint-5xx", f"{PREFIX}-endpoint-latency-p99")
CODE_VERSION = "0123456789abcdef"

log = logging.getLogger("pipeline-harness")


def function_arn(name: str) -> str:
    return stand_ins.function_arn(REGION, name)


# Resource -> the stand-in Lambda that runs in its place (see the module docstring).
DOUBLES = {
    "arn:aws:states:::sagemaker:createProcessingJob.sync": "double-sagemaker-processing-job",
    "arn:aws:states:::sagemaker:createTrainingJob.sync": "double-sagemaker-training-job",
    "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint": "double-sagemaker-update-endpoint",
    "arn:aws:states:::aws-sdk:sfn:listExecutions": "double-sfn-list-executions",
    "arn:aws:states:::aws-sdk:s3:getObject": "double-s3-get-object",
}
# What moto's interpreter runs itself (checked: nothing else is left after the swap).
MOTO_RUNS = {
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::sns:publish",
    "arn:aws:states:::sagemaker:createModel",
    "arn:aws:states:::sagemaker:createEndpointConfig",
    "arn:aws:states:::sagemaker:createEndpoint",
    "arn:aws:states:::aws-sdk:s3:copyObject",
}


def settings() -> PipelineDefinitionSettings:
    job = JobResources(instance_type="ml.m5.xlarge", volume_size_gb=30, max_runtime_seconds=3600)
    return PipelineDefinitionSettings(
        name_prefix=PREFIX,
        endpoint_name=ENDPOINT,
        raw_prefix=ZONES.raw,
        curated_prefix=ZONES.curated,
        artifacts_prefix=ZONES.artifacts,
        reports_prefix=ZONES.reports,
        processing=job,
        training=job,
        hyperparameters={"folds": "3"},
        serverless=ServerlessSettings(memory_size_mb=2048, max_concurrency=2),
        # Floors low enough for a model trained on a hundred generated listings; the margin
        # is what the better/worse paths turn on.
        gate=GatePolicy(
            mode="text_only", metric="weighted_f1", margin=0.02, min_accuracy=0.05, max_ece=0.9
        ),
        deploy=DeploySettings(rollback_alarm_names=ALARMS, bake_seconds=300),
        test_share=0.3,
        smoke_cases=4,
    )


def placeholders() -> dict[str, str]:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-oncall"
    images = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/"
    return stand_ins.placeholders(PREFIX, REGION, BUCKET, topic, CODE_VERSION, images)


def definition_for_moto() -> dict[str, Any]:
    swapped = stand_ins.swap_resources(
        build_definition(settings()), placeholders(), DOUBLES, REGION
    )
    left = set(task_resources(swapped).values()) - MOTO_RUNS
    assert all(
        r.startswith("arn:aws:lambda:") or r.startswith("arn:aws:states:::aws-sdk:sagemaker:")
        for r in left
    ), left
    return stand_ins.without_waits(swapped, retry_seconds=1)


# --- SageMaker, S3 and Step Functions stand-ins ---------------------------------------------------

# Deterministic jobs, cached for the session by the content of what they read.
_JOB_CACHE: dict[str, dict[str, bytes]] = {}
_CACHE_LOCK = threading.Lock()


def _prefix_digest(s3: Any, uri: str) -> str:
    bucket, prefix = split_s3_uri(uri)
    h = hashlib.sha256()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            h.update(item["Key"][len(prefix) :].encode() + b"\0" + hashlib.sha256(body).digest())
    return h.hexdigest()


def _snapshot(s3: Any, uri: str) -> dict[str, bytes]:
    bucket, prefix = split_s3_uri(uri)
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"][len(prefix) :]] = s3.get_object(Bucket=bucket, Key=item["Key"])[
                "Body"
            ].read()
    return out


def _restore(s3: Any, uri: str, files: dict[str, bytes]) -> None:
    bucket, prefix = split_s3_uri(uri)
    for rel, body in files.items():
        s3.put_object(Bucket=bucket, Key=prefix + rel, Body=body)


@dataclass
class SageMakerDoubles:
    s3: Any
    sagemaker: Any
    cloudwatch: Any
    fail_training: str | None = None  # a FailureReason: every training job fails with it
    hold_prepare: threading.Event | None = None  # Prepare waits for it (the overlap test)
    prepare_started: threading.Event = field(default_factory=threading.Event)
    training_requests: list[dict[str, Any]] = field(default_factory=list)
    processing_requests: list[dict[str, Any]] = field(default_factory=list)
    endpoint_updates: list[dict[str, Any]] = field(default_factory=list)
    jobs_run: list[str] = field(default_factory=list)  # module names actually run (cache misses)

    def processing_job(self, request: dict[str, Any]) -> dict[str, Any]:
        self.processing_requests.append(request)
        module = request["AppSpecification"]["ContainerEntrypoint"][-1]
        if module == "sagemaker_jobs.prepare":
            self.prepare_started.set()
            if self.hold_prepare is not None and not self.hold_prepare.wait(60):
                raise jobs.JobFailed("held too long")
            self.jobs_run.append(module)
            return jobs.run_processing_job(request, self.s3)
        # Evaluate: cached by model bytes, test rows and arguments.
        inputs = sorted(
            (i["InputName"], _prefix_digest(self.s3, i["S3Input"]["S3Uri"]))
            for i in request["ProcessingInputs"]
        )
        key = json.dumps([module, inputs, request["AppSpecification"].get("ContainerArguments")])
        (output,) = request["ProcessingOutputConfig"]["Outputs"]
        with _CACHE_LOCK:
            cached = _JOB_CACHE.get(key)
        if cached is None:
            self.jobs_run.append(module)
            answer = jobs.run_processing_job(request, self.s3)
            with _CACHE_LOCK:
                _JOB_CACHE[key] = _snapshot(self.s3, output["S3Output"]["S3Uri"])
            return answer
        _restore(self.s3, output["S3Output"]["S3Uri"], cached)
        return {
            "ProcessingJobName": request["ProcessingJobName"],
            "ProcessingJobStatus": "Completed",
        }

    def training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        self.training_requests.append(request)
        if self.fail_training is not None:
            raise jobs.JobFailed(f"{request['TrainingJobName']}: {self.fail_training}")
        (channel,) = request["InputDataConfig"]
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        key = json.dumps(["train", _prefix_digest(self.s3, uri), request["HyperParameters"]])
        name = request["TrainingJobName"]
        bucket, prefix = split_s3_uri(request["OutputDataConfig"]["S3OutputPath"])
        artifact = f"{prefix.rstrip('/')}/{name}/output/model.tar.gz"
        with _CACHE_LOCK:
            cached = _JOB_CACHE.get(key)
        if cached is None:
            self.jobs_run.append("sagemaker_jobs.train")
            answer = jobs.run_training_job(request, self.s3)
            body = self.s3.get_object(Bucket=bucket, Key=artifact)["Body"].read()
            with _CACHE_LOCK:
                _JOB_CACHE[key] = {"model.tar.gz": body}
            return answer
        self.s3.put_object(Bucket=bucket, Key=artifact, Body=cached["model.tar.gz"])
        return {
            "TrainingJobName": name,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://{bucket}/{artifact}"},
        }

    def update_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint as SageMaker behaves: the endpoint and the config must exist; an
        auto-rollback alarm in ALARM during the deployment keeps the old config serving."""
        self.endpoint_updates.append(request)
        name, config = request["EndpointName"], request["EndpointConfigName"]
        current = self.sagemaker.describe_endpoint(EndpointName=name)
        self.sagemaker.describe_endpoint_config(EndpointConfigName=config)
        if stand_ins.rolled_back(self.cloudwatch, request):
            return {"EndpointArn": current["EndpointArn"]}  # rolled back: old config stays
        return {"EndpointArn": stand_ins.switch_endpoint(self.sagemaker, name, config)}


# --- The endpoint, served by the real inference server -------------------------------------------


class ServedEndpoints:
    """sagemaker-runtime for the smoke test: the endpoint's current config in moto -> its model
    -> the model artifact in S3 -> inference.server's /invocations (cached per artifact).
    With `healthy_only` set, any other artifact answers 500, as a container that cannot serve.
    """

    # One server per distinct model (by the artifact's sha256), for the whole session.
    _apps: ClassVar[dict[str, Any]] = {}
    _models = tempfile.TemporaryDirectory(prefix="served-models-")
    _servers = ExitStack()  # stopped when the test session ends (atexit below)

    def __init__(self, s3: Any, sagemaker: Any) -> None:
        self.s3, self.sagemaker = s3, sagemaker
        self.healthy_only: set[str] | None = None
        self.invocations: list[tuple[str, str]] = []  # (endpoint, model data url)

    def model_data_url(self, endpoint_name: str) -> str:
        config = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        return stand_ins.model_data_url(self.sagemaker, config)

    def _app(self, url: str) -> Any:
        # Over loopback HTTP, as the other tests serve models: Starlette's TestClient wants
        # httpx2 and warns (deprecated) with the httpx the project pins.
        from local_runtime.serving import running_server

        model_dir = fetch_model(self.s3, url, Path(self._models.name))
        if model_dir.name not in self._apps:  # named by the archive's digest
            served = self._servers.enter_context(running_server(model_dir))
            self._apps[model_dir.name] = httpx.Client(base_url=served, timeout=60)
        return self._apps[model_dir.name]

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        url = self.model_data_url(request["EndpointName"])
        self.invocations.append((request["EndpointName"], url))
        if self.healthy_only is not None and url not in self.healthy_only:
            status, content = 500, b'{"error": "the container crashed"}'
        else:
            answer = self._app(url).post(
                "/invocations",
                content=request["Body"],
                headers={"content-type": request["ContentType"]},
            )
            status, content = answer.status_code, answer.content
        if status != 200:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ModelError",
                        "Message": f"Received server error ({status}) from primary: {content[:200]!r}",
                    },
                    "OriginalStatusCode": status,
                },
                "InvokeEndpoint",
            )
        return {"Body": io.BytesIO(content), "ContentType": "application/json"}


atexit.register(ServedEndpoints._servers.close)


def jpeg(color: tuple[int, int, int]) -> bytes:
    """A small photo of one color (distinct colors, distinct bytes)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 48), color).save(out, "JPEG")
    return out.getvalue()


# --- The stack and its observations ----------------------------------------------------------------


@dataclass
class Execution:
    arn: str
    status: str
    output: dict[str, Any]
    error: str | None
    entered: list[str]  # state names, in the order entered (Parallel branches included)
    events: list[dict[str, Any]]

    @property
    def run_id(self) -> str:
        """The run's id, as PlanRun recorded it."""
        for event in self.events:
            details = event.get("stateExitedEventDetails", {})
            if details.get("name") == "PlanRun":
                return str(json.loads(details["output"])["run"]["id"])
        raise AssertionError("the execution never left PlanRun")

    def request(self, resource: str) -> dict[str, Any]:
        """The parameters of the (one) task call to `resource` (e.g. "createModelPackage")."""
        (sent,) = [
            json.loads(e["taskScheduledEventDetails"]["parameters"])
            for e in self.events
            if e.get("taskScheduledEventDetails", {}).get("resource") == resource
        ]
        parameters: dict[str, Any] = sent
        return parameters

    def path_through(self, *states: str) -> bool:
        """True when `states` were entered in this order (others may come between)."""
        it = iter(self.entered)
        return all(any(s == e for e in it) for s in states)


class MotoPipeline:
    """What the CDK PipelineStack deploys, in moto: lake bucket, on-call topic (read through an
    SQS subscription), model package group, alarms, the state machine; and what a test reads
    back from them."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        self.s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        _, self.inbox = create_pipeline_resources(PREFIX, ALARMS)
        self.state_machine = self.sfn.create_state_machine(
            name=STATE_MACHINE,
            definition=json.dumps(definition_for_moto()),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-states",
        )["stateMachineArn"]

    def start(self, name: str, trigger: str = "manual") -> str:
        arn: str = self.sfn.start_execution(
            stateMachineArn=self.state_machine, name=name, input=json.dumps({"trigger": trigger})
        )["executionArn"]
        return arn

    def wait(self, arn: str, timeout: float = 600) -> Execution:
        described, events = follow_execution(self.sfn, arn, timeout=timeout, poll=0.1)
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in events
            if e["type"].endswith("StateEntered")
        ]
        return Execution(
            arn=arn,
            status=described["status"],
            output=json.loads(described.get("output") or "{}"),
            error=described.get("error"),
            entered=entered,
            events=events,
        )

    def run(self, name: str) -> Execution:
        return self.wait(self.start(name))

    def notifications(self) -> list[dict[str, str]]:
        """Every on-call message so far (subject, message), oldest first; drains the inbox."""
        return drain_inbox(self.sqs, self.inbox)

    def packages(self) -> list[dict[str, Any]]:
        """Every model package of the group, oldest first, described."""
        listed = self.sagemaker.list_model_packages(
            ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Ascending"
        )["ModelPackageSummaryList"]
        return [
            self.sagemaker.describe_model_package(ModelPackageName=p["ModelPackageArn"])
            for p in listed
        ]

    def endpoint_config(self) -> str | None:
        try:
            name: str = self.sagemaker.describe_endpoint(EndpointName=ENDPOINT)[
                "EndpointConfigName"
            ]
        except ClientError:
            return None
        return name

    def object(self, key: str) -> bytes | None:
        try:
            body: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except ClientError:
            return None
        return body

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return [o["Key"] for o in listed]


@dataclass
class Moto:
    """What a test drives and observes (the `moto` fixture of conftest.py)."""

    pipeline: MotoPipeline
    jobs: SageMakerDoubles
    served: ServedEndpoints
    lambdas: InProcessLambdas
