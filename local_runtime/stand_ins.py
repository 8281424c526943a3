"""The stand-ins the local pipeline run (local_runtime/pipeline.py) and the pipeline tests put
in place of what moto cannot run, each running real code; the one file to change for a local
stand-in.

- `STAND_INS`: the state machine's task resources swapped, and the function each becomes;
- `InProcessLambdas`: moto's Lambda without Docker only echoes its input; this runs the real
  handlers (gate, smoke test, the stand-ins below) in this process;
- `LocalDeployments`: createEndpoint / updateEndpoint / deleteEndpoint in moto's registry *and*
  on the local SageMaker runtime (local_runtime/endpoints.py), which serves the model the
  endpoint config names (moto has no UpdateEndpoint and serves no model);
- `sfn_list_executions`, `s3_get_object`: aws-sdk:sfn:listExecutions and aws-sdk:s3:getObject
  through boto3, answered the way Step Functions answers them (moto passes sfn's parameters with
  the wrong casing and returns GetObject's Body as a stream);
- the SageMaker jobs themselves: local_runtime/jobs.py (processing, training) and
  local_runtime/transform_job.py (Batch Transform).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from sagemaker_jobs.model_archive import fetch_model
from step_functions.render import replace_resources, substitute

log = logging.getLogger(__name__)
ACCOUNT = "123456789012"
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


def model_data_url(sagemaker: Any, config_name: str) -> str:
    """The ModelDataUrl of the model an endpoint config serves (its first variant)."""
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    url: str = model["PrimaryContainer"]["ModelDataUrl"]
    return url


def rolled_back(cloudwatch: Any, request: dict[str, Any]) -> bool:
    """An UpdateEndpoint request's auto-rollback alarms: any in ALARM during the deployment
    keeps the old config serving."""
    alarms = [
        a["AlarmName"]
        for a in request.get("DeploymentConfig", {})
        .get("AutoRollbackConfiguration", {})
        .get("Alarms", [])
    ]
    if not alarms:
        return False
    states = cloudwatch.describe_alarms(AlarmNames=alarms)["MetricAlarms"]
    return any(a["StateValue"] == "ALARM" for a in states)


def switch_endpoint(sagemaker: Any, name: str, config_name: str) -> str:
    """moto has no UpdateEndpoint: the same endpoint name, now on the new config. Its ARN."""
    sagemaker.delete_endpoint(EndpointName=name)
    arn: str = sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config_name)[
        "EndpointArn"
    ]
    return arn


class LocalDeployments:
    """Endpoint create/update/delete: moto's registry, and the model served by the local
    SageMaker runtime (`endpoints`: local_runtime.endpoints.LocalEndpoints)."""

    def __init__(self, endpoints: Any, models_dir: Path) -> None:
        self.endpoints = endpoints
        self.models_dir = models_dir
        self.sagemaker = boto3.client("sagemaker")
        self.cloudwatch = boto3.client("cloudwatch")
        self.s3 = boto3.client("s3")

    def _serve(self, endpoint_name: str, config_name: str) -> None:
        url = model_data_url(self.sagemaker, config_name)
        self.endpoints.deploy(endpoint_name, fetch_model(self.s3, url, self.models_dir))

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        created = self.sagemaker.create_endpoint(
            EndpointName=request["EndpointName"], EndpointConfigName=request["EndpointConfigName"]
        )
        self._serve(request["EndpointName"], request["EndpointConfigName"])
        return {"EndpointArn": created["EndpointArn"]}

    def update(self, request: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint: the new config's model replaces the old one once it is up, unless an
        auto-rollback alarm is in ALARM (then the old one stays, as SageMaker rolls back)."""
        name, config = request["EndpointName"], request["EndpointConfigName"]
        current = self.sagemaker.describe_endpoint(EndpointName=name)
        self.sagemaker.describe_endpoint_config(EndpointConfigName=config)
        if rolled_back(self.cloudwatch, request):
            return {"EndpointArn": current["EndpointArn"]}
        self._serve(name, config)
        return {"EndpointArn": switch_endpoint(self.sagemaker, name, config)}

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


def without_waits(definition: dict[str, Any], retry_seconds: int | None = None) -> dict[str, Any]:
    """Locally the endpoint is in service at once: no minute-long polls between checks.
    `retry_seconds`: retries that far apart too (1 is ASL's minimum; the tests' speed-up)."""
    fast: dict[str, Any] = json.loads(json.dumps(definition))

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            for retrier in state.get("Retry", []) if retry_seconds else []:
                retrier["IntervalSeconds"] = retry_seconds
            if state["Type"] == "Wait":
                state["Seconds"] = 0
                state.pop("SecondsPath", None)
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(fast["States"])
    return fast


def placeholders(
    prefix: str, region: str, bucket: str, topic_arn: str, code_version: str, images: str
) -> dict[str, str]:
    """The values CloudFormation gives the definition's placeholders, for a stack named `prefix`
    (`images`: the ECR repository prefix the jobs and serving images are tagged under)."""
    role = f"arn:aws:iam::{ACCOUNT}:role/{prefix}"
    return {
        "DataLakeBucket": bucket,
        "PrepareRoleArn": f"{role}-prepare",
        "EvaluateRoleArn": f"{role}-evaluate",
        "TrainingRoleArn": f"{role}-train",
        "ModelRoleArn": f"{role}-model",
        "JobsImageUri": f"{images}jobs:{code_version}",
        "ServingImageUri": f"{images}serving:{code_version}",
        "CodeVersion": code_version,
        "ModelPackageGroupName": f"{prefix}-models",
        "GateFunctionArn": function_arn(region, f"{prefix}-gate"),
        "SmokeFunctionArn": function_arn(region, f"{prefix}-smoke"),
        "OnCallTopicArn": topic_arn,
        "CatalogueRoleArn": f"{role}-catalogue",
    }


def swap_resources(
    definition: dict[str, Any], values: dict[str, str], stand_ins: dict[str, str], region: str
) -> dict[str, Any]:
    """The deployed definition with its placeholders filled in and each resource of
    `stand_ins` replaced by the ARN of the function named there."""
    rendered = substitute(definition, values)
    arns = {resource: function_arn(region, name) for resource, name in stand_ins.items()}
    return replace_resources(rendered, arns)
