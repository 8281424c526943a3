"""A Python Lambda as every prodcat function is built: source allowlist, the AWS-managed
Powertools layer, X-Ray, JSON logs to its own retained-for-N-days group, optional reserved
concurrency, and a role that starts empty (no managed policies) so each caller grants only what
it needs."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.constructs.retention import retention

# The zip holds the lambdas package and the shared contracts (prodcat_contracts: standard
# library and pydantic only). No vendored dependencies: Powertools and pydantic come from the
# layer, boto3 from the runtime.
LAMBDA_SOURCE = (
    "*",
    ".*",  # glob's "*" skips dot-files: .venv, .env and the tool caches stay out too
    "**/.*",
    "!lambdas",
    "!lambdas/**",
    "!prodcat_contracts",
    "!prodcat_contracts/**",
    "**/__pycache__",
    "**/*.pyc",
)
# Lambdas run on python3.13 (Amazon Linux 2023, supported to 2029); the images and the .venv
# stay on 3.11, the only Python the local CPU torch wheel exists for. The Lambda code is not
# installed from pyproject.toml (requires-python covers the images), so it is tested on both:
# tests/api with the .venv's 3.11, tests/infra/test_lambda_runtime.py with 3.13 as Lambda runs it.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
# The one Powertools version the functions run with. pyproject.toml pins the same one for the
# .venv tests, and tests/infra/test_lambda_runtime.py imports and invokes every handler with
# exactly it (a test fails when the three disagree). The handlers need >= 3.28 (`status_code=`
# on route decorators); the layer number cdk.json used to pin (26) carried 3.22.1 and every API
# function crashed on import.
POWERTOOLS_VERSION = "3.37.0"
# The AWS-managed layer is looked up by that semantic version, not by its layer number (a
# per-runtime counter that says nothing about what the layer holds): the Powertools team
# publishes, in every commercial region and for every release, the public SSM parameter
# /aws/service/powertools/python/<arch>/<python>/<version> holding the layer's ARN. The stack
# reads it as an AWS::SSM::Parameter::Value<String> parameter, resolved by CloudFormation at
# deploy time in the target region: synth never calls AWS, and a version without a layer fails
# the deploy before any function exists instead of crashing at run time.
POWERTOOLS_LAYER_PARAMETER = (
    f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"
)


class PowertoolsFunctionConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_root: Path,
        handler: str,
        description: str,
        service: str,
        metrics_namespace: str,
        memory_mb: int,
        timeout: Duration,
        reserved_concurrency: int | None,
        log_retention_days: int,
        environment: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"prodcat {service} Lambda",
        )
        self.log_group.grant_write(self.role)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=lambda_.Code.from_asset(
                str(source_root), exclude=list(LAMBDA_SOURCE), ignore_mode=IgnoreMode.GLOB
            ),
            layers=[layer],
            role=self.role,
            memory_size=memory_mb,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        acknowledge(
            self.role,
            "X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions; "
            "log-stream ARNs are only known at run time (the grant is on this function's group).",
            "AwsSolutions-IAM5[Resource::*]",
        )
        acknowledge(
            self.function,
            "The runtime is pinned to the one the AWS-managed Powertools layer is resolved for "
            "(POWERTOOLS_LAYER_PARAMETER) and the handlers are tested on; runtime, layer and "
            "that test are raised together, deliberately.",
            "AwsSolutions-L1",
        )
