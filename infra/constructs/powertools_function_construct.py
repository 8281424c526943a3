"""A Python Lambda as every prodcat function is built: source allowlist, the AWS-managed
Powertools layer, X-Ray, JSON logs to its own retained-for-N-days group, bounded concurrency,
and a role that starts empty (no managed policies) so each caller grants only what it needs."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.constructs.retention import retention

# The zip holds the lambdas package (less the local stack) and the two pure-Python modules the
# API shares with the model: the listing schema and the taxonomy. No vendored dependencies:
# Powertools and pydantic come from the layer, boto3 from the runtime.
LAMBDA_SOURCE = (
    "*",
    ".*",  # glob's "*" skips dot-files: .venv, .env and the tool caches stay out too
    "**/.*",
    "!lambdas",
    "!lambdas/**",
    "lambdas/local",
    "lambdas/local/**",
    "!prodcat",
    "prodcat/*",
    "!prodcat/__init__.py",
    "!prodcat/taxonomy.py",
    "!inference",
    "inference/*",
    "!inference/__init__.py",
    "!inference/schema.py",
    "**/__pycache__",
    "**/*.pyc",
)
RUNTIME = lambda_.Runtime.PYTHON_3_13
# Published by AWS (account 017000801446) in every commercial region.
POWERTOOLS_LAYER = (
    "arn:{partition}:lambda:{region}:017000801446:layer:"
    "AWSLambdaPowertoolsPythonV3-python313-x86_64:{version}"
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
        reserved_concurrency: int,
        log_retention_days: int,
        powertools_layer_version: int,
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
            POWERTOOLS_LAYER.format(
                partition=Aws.PARTITION, region=Aws.REGION, version=powertools_layer_version
            ),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
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
            "The runtime is pinned to the one the AWS-managed Powertools layer in cdk.json is "
            "built for (python313); runtime and layer are raised together, deliberately.",
            "AwsSolutions-L1",
        )
