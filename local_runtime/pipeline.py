"""`prodcat pipeline run --local`: the retrain state machine, executed by the local stack's
Step Functions (moto's interpreter), against its S3, SageMaker registry, SNS and endpoints.

The definition is the deployed one (dev stage settings, the same ASL) with the task resources
moto cannot run swapped for the stand-ins of local_runtime/stand_ins.py, which run real code:
the SageMaker jobs (local_runtime/jobs.py, local_runtime/transform_job.py), the endpoint
deployments on the local SageMaker runtime, the gate and smoke-test Lambdas' own handlers.
`follow_execution` and `drain_inbox` are how a run is watched, here and in the pipeline tests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
from moto.awslambda_simple.models import LambdaSimpleBackend

from infra.config import load_stage_configs
from infra.pipeline_settings import definition_settings
from local_runtime import jobs
from local_runtime.stand_ins import (
    ACCOUNT,
    STAND_INS,
    Handler,
    InProcessLambdas,
    LocalDeployments,
    create_pipeline_resources,
    lambda_handler,
    placeholders,
    s3_get_object,
    sfn_list_executions,
    swap_resources,
    without_waits,
)
from local_runtime.transform_job import run_transform_job
from prodcat_contracts.lake import BASE_DIR, ZONES
from step_functions.definition import ReclassifySettings, build_definition

PREFIX = "prodcat-local"
CODE_VERSION = "local"


def _seed_base_data(data_dir: Path, bucket: str, raw_prefix: str) -> int:
    """The challenge-format directory, as `aws s3 sync DATA_DIR s3://BUCKET/raw/base/` puts it."""
    return jobs.upload_dir(boto3.client("s3"), data_dir, f"s3://{bucket}/{raw_prefix}{BASE_DIR}/")


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
        alarms = (f"{PREFIX}-endpoint-5xx", f"{PREFIX}-endpoint-latency-p99")
        settings = definition_settings(config, ZONES, alarms).model_copy(
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
            "local-processing-job": job(jobs.run_processing_job),
            "local-training-job": job(jobs.run_training_job),
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
        values = placeholders(
            PREFIX,
            self.region,
            self.bucket,
            self.topic,
            CODE_VERSION,
            images=f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/prodcat-",
        )
        definition = swap_resources(build_definition(settings), values, STAND_INS, self.region)
        self.state_machine = boto3.client("stepfunctions").create_state_machine(
            name=f"{PREFIX}-retrain",
            definition=json.dumps(without_waits(definition)),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-states",
        )["stateMachineArn"]

    def close(self) -> None:
        LambdaSimpleBackend.invoke = self._original_invoke  # type: ignore[method-assign]

    def seed(self, data_dir: Path) -> int:
        return _seed_base_data(data_dir, self.bucket, ZONES.raw)

    def run(self, on_state: Callable[[str], None] = print, timeout: float = 3600) -> dict[str, Any]:
        """Start a run, report each state as it is entered, return the final description."""
        sfn = boto3.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.state_machine,
            name=f"local-{time.strftime('%Y%m%dT%H%M%S')}",
            input=json.dumps({"trigger": "manual", "requested_by": "prodcat pipeline run --local"}),
        )["executionArn"]
        described, _ = follow_execution(sfn, arn, on_state, timeout)
        return described

    def notifications(self) -> list[str]:
        """The on-call messages so far (subjects), oldest first."""
        return [m["subject"] for m in drain_inbox(boto3.client("sqs"), self.inbox)]


def follow_execution(
    sfn: Any,
    arn: str,
    on_state: Callable[[str], None] | None = None,
    timeout: float = 3600,
    poll: float = 0.2,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Wait for an execution to end, reporting each state as it is entered (`on_state`);
    returns its final description and its history's events."""
    seen = 0
    deadline = time.monotonic() + timeout
    while True:
        described = dict(sfn.describe_execution(executionArn=arn))
        events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=arn, maxResults=1000)[
            "events"
        ]
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in events
            if e["type"].endswith("StateEntered")
        ]
        for name in entered[seen:]:
            if on_state is not None:
                on_state(name)
        seen = len(entered)
        if described["status"] != "RUNNING":
            return described, events
        if time.monotonic() > deadline:
            raise TimeoutError(f"{arn} is still running after {timeout} s")
        time.sleep(poll)


def drain_inbox(sqs: Any, queue_url: str) -> list[dict[str, str]]:
    """The on-call messages an SQS subscription of the topic holds (subject, message), oldest
    first; read and deleted."""
    found: list[dict[str, str]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for m in messages:
            envelope = json.loads(m["Body"])
            found.append({"subject": envelope.get("Subject", ""), "message": envelope["Message"]})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return found


def sample_base_data(out: Path) -> Path:
    """Generated base data, enough for the first model to clear the dev stage's gate floors."""
    from prodcat.sample_catalog import write_sample_catalog

    shutil.rmtree(out, ignore_errors=True)
    return write_sample_catalog(out, per_class=6, seed=1)


def run_local(data_dir: Path | None, work_dir: Path, keep_running: bool) -> int:
    """Start the local stack, seed the base data, run the pipeline, show the served model."""
    from local_runtime.stack import LocalStack

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
