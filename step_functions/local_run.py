"""`prodcat pipeline run --local`: the retrain state machine, executed by the local stack's
Step Functions (moto's interpreter), against its S3, SageMaker registry, SNS and endpoints.

The definition is the deployed one (dev stage settings, the same ASL) with the task resources
moto cannot run swapped for stand-ins that run real code:

- the SageMaker `.sync` jobs -> sagemaker_jobs.in_process: the real prepare / train / evaluate
  entry points on the lake's objects, as SageMaker runs the jobs image; the Batch Transform
  that reclassifies the catalogue -> sagemaker_jobs.transform_in_process (the serving
  container's JSON Lines code on the deployed model);
- createEndpoint / updateEndpoint / deleteEndpoint -> the endpoint in moto's registry *and* the
  local SageMaker runtime (lambdas.local.endpoints) serving the model the endpoint config names,
  so the smoke test and /predict reach the new model (moto has no UpdateEndpoint and serves no
  model);
- aws-sdk:sfn:listExecutions and aws-sdk:s3:getObject -> the same calls through boto3, answered
  the way Step Functions answers them (moto passes sfn's parameters with the wrong casing and
  returns GetObject's Body as a stream);
- the gate and smoke-test Lambdas -> their real handlers, in this process (moto's Lambda without
  Docker only echoes its input).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import httpx
from moto.awslambda_simple.models import LambdaSimpleBackend

from infra.config import load_stage_configs
from sagemaker_jobs import in_process
from sagemaker_jobs.transform_in_process import run_transform_job
from step_functions.definition import ReclassifySettings, build_definition
from step_functions.render import replace_resources, substitute
from step_functions.stage_settings import definition_settings

log = logging.getLogger(__name__)
ACCOUNT = "123456789012"
PREFIX = "prodcat-local"
CODE_VERSION = "local"
Handler = Callable[[dict[str, Any]], Any]


def function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


# Resource -> the stand-in that runs in its place (see the module docstring).
STAND_INS = {
    "arn:aws:states:::sagemaker:createProcessingJob.sync": "local-processing-job",
    "arn:aws:states:::sagemaker:createTrainingJob.sync": "local-training-job",
    "arn:aws:states:::sagemaker:createTransformJob.sync": "local-transform-job",
    "arn:aws:states:::sagemaker:createEndpoint": "local-create-endpoint",
    "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint": "local-update-endpoint",
    "arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint": "local-delete-endpoint",
    "arn:aws:states:::aws-sdk:sfn:listExecutions": "local-sfn-list-executions",
    "arn:aws:states:::aws-sdk:s3:getObject": "local-s3-get-object",
}


class _Context:
    """The Lambda context fields the Powertools handlers read."""

    function_name = "in-process"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:local:{ACCOUNT}:function:in-process"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def lambda_handler(handler: Callable[[dict[str, Any], Any], Any]) -> Handler:
    return lambda event: handler(event, _Context())


class InProcessLambdas:
    """moto's Lambda without Docker answers every invoke with its input; this runs a Python
    handler instead and reports its exceptions as Lambda does (FunctionError: Unhandled)."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def register(self, name: str, handler: Handler) -> None:
        self.handlers[name] = handler

    def invoke(self, name: str, body: str) -> tuple[bytes, str | None]:
        name = name.split(":function:")[-1].split(":")[0]
        event = json.loads(body) if body else {}
        self.calls.append((name, event))
        handler = self.handlers.get(name)
        if handler is None:
            payload = {"errorType": "ResourceNotFound", "errorMessage": name}
            return json.dumps(payload).encode(), "Unhandled"
        try:
            return json.dumps(handler(event), default=str).encode(), None
        except Exception as exc:  # a Lambda's failure is data for the state machine's Catch
            log.info("%s failed: %s", name, exc)
            payload = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return json.dumps(payload).encode(), "Unhandled"

    def backend_invoke(self) -> Callable[..., bytes]:
        """A replacement for LambdaSimpleBackend.invoke that calls the registered handlers."""
        lambdas = self

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: Any,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            payload, error = lambdas.invoke(function_name, body)
            if error:
                response_headers["x-amz-function-error"] = error
            return payload

        return invoke


def sfn_list_executions(event: dict[str, Any]) -> dict[str, Any]:
    """aws-sdk:sfn:listExecutions as Step Functions runs it: PascalCase in and out."""
    listed = boto3.client("stepfunctions").list_executions(
        stateMachineArn=event["StateMachineArn"],
        statusFilter=event["StatusFilter"],
        maxResults=event.get("MaxResults", 100),
    )["executions"]
    return {
        "Executions": [
            {
                "ExecutionArn": e["executionArn"],
                "StateMachineArn": e["stateMachineArn"],
                "Name": e["name"],
                "Status": e["status"],
                "StartDate": e["startDate"].isoformat(),
            }
            for e in listed
        ]
    }


def s3_get_object(event: dict[str, Any]) -> dict[str, Any]:
    """aws-sdk:s3:getObject as Step Functions runs it: the Body as text."""
    got = boto3.client("s3").get_object(Bucket=event["Bucket"], Key=event["Key"])
    return {
        "Body": got["Body"].read().decode(),
        "ContentType": got.get("ContentType"),
        "ContentLength": got["ContentLength"],
    }


class LocalDeployments:
    """Endpoint create/update/delete: moto's registry, and the model served by the local
    SageMaker runtime (`endpoints`: lambdas.local.endpoints.LocalEndpoints)."""

    def __init__(self, endpoints: Any, models_dir: Path) -> None:
        self.endpoints = endpoints
        self.models_dir = models_dir
        self.sagemaker = boto3.client("sagemaker")
        self.s3 = boto3.client("s3")

    def _serve(self, endpoint_name: str, config_name: str) -> None:
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model = self.sagemaker.describe_model(
            ModelName=config["ProductionVariants"][0]["ModelName"]
        )
        bucket, key = in_process.split_s3_uri(model["PrimaryContainer"]["ModelDataUrl"])
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        target = self.models_dir / hashlib.sha256(body).hexdigest()[:16]
        if not target.exists():
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                tar.extractall(target, filter="data")
        self.endpoints.deploy(endpoint_name, target)

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        created = self.sagemaker.create_endpoint(
            EndpointName=request["EndpointName"], EndpointConfigName=request["EndpointConfigName"]
        )
        self._serve(request["EndpointName"], request["EndpointConfigName"])
        return {"EndpointArn": created["EndpointArn"]}

    def update(self, request: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint: the new config's model replaces the old one once it is up."""
        name, config = request["EndpointName"], request["EndpointConfigName"]
        self.sagemaker.describe_endpoint_config(EndpointConfigName=config)
        self._serve(name, config)
        self.sagemaker.delete_endpoint(EndpointName=name)
        created = self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
        return {"EndpointArn": created["EndpointArn"]}

    def delete(self, request: dict[str, Any]) -> dict[str, Any]:
        self.sagemaker.delete_endpoint(EndpointName=request["EndpointName"])
        self.endpoints.delete(request["EndpointName"])
        return {}


def create_pipeline_resources(prefix: str, alarms: tuple[str, ...]) -> tuple[str, str]:
    """What the pipeline stack provides besides the state machine, in moto: the on-call topic
    (read through an SQS inbox), the model package group `<prefix>-models` and the endpoint's
    rollback alarms. Returns the topic ARN and the inbox queue URL."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"{prefix}-oncall")["TopicArn"]
    inbox = sqs.create_queue(QueueName=f"{prefix}-oncall-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=f"{prefix}-models")
    for alarm in alarms:
        boto3.client("cloudwatch").put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
    return topic, inbox


def _seed_base_data(data_dir: Path, bucket: str, raw_prefix: str) -> int:
    """The challenge-format directory, as `aws s3 sync DATA_DIR s3://BUCKET/raw/base/` puts it."""
    return in_process.upload_dir(boto3.client("s3"), data_dir, f"s3://{bucket}/{raw_prefix}base/")


class LocalPipeline:
    """The state machine and everything around it, created in the local stack."""

    def __init__(self, stack: Any, work_dir: Path, cdk_json: Path = Path("cdk.json")) -> None:
        resources = stack.resources
        self.stack = stack
        self.bucket = resources.bucket
        self.region = boto3.session.Session().region_name or "eu-west-3"
        self.moto_url = resources.moto_url
        context = json.loads(cdk_json.read_text())["context"]
        (config,) = load_stage_configs(context, "dev")
        zones = SimpleNamespace(
            raw="raw/",
            curated="curated/",
            artifacts="models/artifacts/",
            reports="models/reports/",
            predictions="models/predictions/",
        )
        alarms = (f"{PREFIX}-endpoint-5xx", f"{PREFIX}-endpoint-latency-p99")
        settings = definition_settings(config, zones, alarms).model_copy(
            update={
                "name_prefix": PREFIX,
                "endpoint_name": resources.endpoint_name,
                # Off in dev's AWS account (cost), on here: the local run shows every step.
                "reclassify": ReclassifySettings(instance_type="ml.m5.xlarge"),
            }
        )
        self.lambdas = InProcessLambdas()
        self._original_invoke = LambdaSimpleBackend.invoke
        self._work_dir = work_dir
        self._create(settings, alarms)

    def _create(self, settings: Any, alarms: tuple[str, ...]) -> None:
        # The local moto server runs definitions only when told so, and Lambdas in process.
        httpx.post(
            f"{self.moto_url}/moto-api/config",
            json={
                "stepfunctions": {"execute_state_machine": True},
                "lambda": {"use_docker": False},
            },
            timeout=10,
        ).raise_for_status()
        LambdaSimpleBackend.invoke = self.lambdas.backend_invoke()  # type: ignore[method-assign]

        from lambdas.pipeline import gate, smoke

        self.topic, self.inbox = create_pipeline_resources(PREFIX, alarms)
        group = f"{PREFIX}-models"
        deployments = LocalDeployments(self.stack.endpoints, self._work_dir / "models")
        jobs_log = self._work_dir / "jobs.log"

        def job(run: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Handler:
            """A job's own output goes to jobs.log, as a SageMaker job's goes to its log stream."""

            def handler(request: dict[str, Any]) -> dict[str, Any]:
                # Process-wide redirections: run_local prints states to the stream it kept.
                with (
                    jobs_log.open("a") as out,
                    contextlib.redirect_stdout(out),
                    contextlib.redirect_stderr(out),
                ):
                    return run(request, boto3.client("s3"))

            return handler

        handlers: dict[str, Handler] = {
            "local-processing-job": job(in_process.run_processing_job),
            "local-training-job": job(in_process.run_training_job),
            "local-transform-job": job(
                lambda request, s3: run_transform_job(
                    request, s3, boto3.client("sagemaker"), self._work_dir / "models"
                )
            ),
            "local-create-endpoint": deployments.create,
            "local-update-endpoint": deployments.update,
            "local-delete-endpoint": deployments.delete,
            "local-sfn-list-executions": sfn_list_executions,
            "local-s3-get-object": s3_get_object,
            f"{PREFIX}-gate": lambda_handler(gate.handler),
            f"{PREFIX}-smoke": lambda_handler(smoke.handler),
        }
        for name, handler in handlers.items():
            self.lambdas.register(name, handler)
        role = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}"
        image = f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/prodcat"
        rendered = substitute(
            build_definition(settings),
            {
                "DataLakeBucket": self.bucket,
                "PrepareRoleArn": f"{role}-prepare",
                "EvaluateRoleArn": f"{role}-evaluate",
                "TrainingRoleArn": f"{role}-train",
                "ModelRoleArn": f"{role}-model",
                "JobsImageUri": f"{image}-jobs:{CODE_VERSION}",
                "ServingImageUri": f"{image}-serving:{CODE_VERSION}",
                "CodeVersion": CODE_VERSION,
                "ModelPackageGroupName": group,
                "GateFunctionArn": function_arn(self.region, f"{PREFIX}-gate"),
                "SmokeFunctionArn": function_arn(self.region, f"{PREFIX}-smoke"),
                "OnCallTopicArn": self.topic,
                "CatalogueRoleArn": f"{role}-catalogue",
            },
        )
        definition = replace_resources(
            rendered, {k: function_arn(self.region, v) for k, v in STAND_INS.items()}
        )
        self.state_machine = boto3.client("stepfunctions").create_state_machine(
            name=f"{PREFIX}-retrain",
            definition=json.dumps(_without_waits(definition)),
            roleArn=f"{role}-states",
        )["stateMachineArn"]

    def close(self) -> None:
        LambdaSimpleBackend.invoke = self._original_invoke  # type: ignore[method-assign]

    def seed(self, data_dir: Path) -> int:
        return _seed_base_data(data_dir, self.bucket, "raw/")

    def run(self, on_state: Callable[[str], None] = print, timeout: float = 3600) -> dict[str, Any]:
        """Start a run, report each state as it is entered, return the final description."""
        sfn = boto3.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.state_machine,
            name=f"local-{time.strftime('%Y%m%dT%H%M%S')}",
            input=json.dumps({"trigger": "manual", "requested_by": "prodcat pipeline run --local"}),
        )["executionArn"]
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=arn)
            events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            entered = [
                e["stateEnteredEventDetails"]["name"]
                for e in events
                if e["type"].endswith("StateEntered")
            ]
            for name in entered[seen:]:
                on_state(name)
            seen = len(entered)
            if described["status"] != "RUNNING":
                return dict(described)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the run is still going after {timeout} s")
            time.sleep(0.2)

    def notifications(self) -> list[str]:
        """The on-call messages so far (subjects), oldest first."""
        sqs, found = boto3.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for m in messages:
                found.append(json.loads(m["Body"]).get("Subject", ""))
                sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=m["ReceiptHandle"])
        return found


def _without_waits(definition: dict[str, Any]) -> dict[str, Any]:
    """Locally the endpoint is in service at once: no minute-long polls between checks."""
    fast: dict[str, Any] = json.loads(json.dumps(definition))

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            if state["Type"] == "Wait":
                state["Seconds"] = 0
                state.pop("SecondsPath", None)
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(fast["States"])
    return fast


def sample_base_data(out: Path) -> Path:
    """Generated base data, enough for the first model to clear the dev stage's gate floors."""
    from prodcat.sample_catalog import write_sample_catalog

    shutil.rmtree(out, ignore_errors=True)
    return write_sample_catalog(out, per_class=6, seed=1)


def run_local(data_dir: Path | None, work_dir: Path, keep_running: bool) -> int:
    """Start the local stack, seed the base data, run the pipeline, show the served model."""
    from lambdas.local.stack import LocalStack

    # The state machine's own failures are reported by its states; moto logs them again.
    for name in ("moto", "botocore", "httpx", "prodcat"):
        logging.getLogger(name).setLevel(logging.CRITICAL if name == "moto" else logging.WARNING)
    work_dir.mkdir(parents=True, exist_ok=True)
    if data_dir is None:
        data_dir = sample_base_data(work_dir / "base-data")
    # As a fresh stage: no endpoint until the pipeline's first run creates one.
    with LocalStack(deploy_model=False) as stack:
        assert stack.resources is not None
        r = stack.resources
        before = _served_version(r)
        pipeline = LocalPipeline(stack, work_dir)
        try:
            print(f"seeded {pipeline.seed(data_dir)} files from {data_dir} into raw/base/")
            print(f"state machine {pipeline.state_machine} (job output: {work_dir}/jobs.log)")
            console = sys.stdout  # kept: jobs redirect stdout to jobs.log while they run
            result = pipeline.run(
                on_state=lambda name: print(f"  -> {name}", file=console, flush=True)
            )
            print(f"run {result['status']}: {', '.join(pipeline.notifications()) or 'no notice'}")
            after = _served_version(r)
            print(f"model served: {after or 'none'} (before the run: {before})")
            if keep_running:
                print(f"API at {r.api_url} (x-api-key: {r.api_key}); Ctrl-C stops it all.")
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    print("\nstopping")
            return 0 if result["status"] == "SUCCEEDED" else 1
        finally:
            pipeline.close()


def _served_version(resources: Any) -> str | None:
    """The model version the local endpoint answers with, through sagemaker-runtime."""
    try:
        answer = boto3.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=resources.endpoint_name,
            ContentType="application/json",
            Body=json.dumps({"designation": "Piscine hors sol"}).encode(),
        )
    except Exception:  # no endpoint yet: nothing served
        return None
    version: str = json.loads(answer["Body"].read())["model_version"]
    return version
