"""The retrain -> evaluate -> gate -> deploy state machine (definition in step_functions/),
its gate Lambda, the roles it acts with, and the EventBridge schedule that starts it."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.data_lake_construct import DataLakeZones
from infra.constructs.model_registry_construct import ModelRegistryConstruct
from infra.constructs.nag import acknowledge, acknowledge_prefix_grants
from infra.constructs.on_call_topic_construct import OnCallTopicConstruct
from infra.constructs.powertools_function_construct import PowertoolsFunctionConstruct
from infra.constructs.retention import retention
from infra.constructs.sagemaker_roles_construct import SageMakerRolesConstruct
from step_functions.definition import (
    GatePolicy,
    JobResources,
    PipelineDefinitionSettings,
    ServerlessSettings,
    build_definition,
)


def definition_settings(config: StageConfig, zones: DataLakeZones) -> PipelineDefinitionSettings:
    """The static half of the definition, from the stage config."""
    ml = config.ml
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
        gate=GatePolicy(**config.pipeline.gate.model_dump()),
    )


class TrainingPipelineConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        source_root: Path,
        bucket: s3.IBucket,
        zones: DataLakeZones,
        roles: SageMakerRolesConstruct,
        jobs_image: ecr_assets.DockerImageAsset,
        serving_image: ecr_assets.DockerImageAsset,
        registry: ModelRegistryConstruct,
        on_call: OnCallTopicConstruct,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        api = config.api
        self.gate = PowertoolsFunctionConstruct(
            self,
            "Gate",
            source_root=source_root,
            handler="lambdas.pipeline.gate.handler",
            description="Promotion gate: challenger vs champion metrics.json",
            service="prodcat-gate",
            metrics_namespace="prodcat",
            memory_mb=256,
            timeout=Duration.seconds(30),
            reserved_concurrency=2,  # one run at a time calls it once
            log_retention_days=config.pipeline.log_retention_days,
            powertools_layer_version=api.powertools_layer_version,
        )
        bucket.grant_read(self.gate.role, f"{zones.reports}*")
        acknowledge_prefix_grants(
            self.gate.role,
            bucket,
            (zones.reports,),
            "The gate reads metrics.json files under the reports zone, keyed per run.",
        )
        acknowledge(
            self.gate.role,
            "Read-only S3 grant (GetObject*, GetBucket*, List*) scoped to the reports prefix.",
            "AwsSolutions-IAM5[Action::s3:GetObject*]",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:List*]",
        )

        self.definition = build_definition(definition_settings(config, zones))
        log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=retention(config.pipeline.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="prodcat retraining state machine",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_string(json.dumps(self.definition)),
            definition_substitutions={
                "DataLakeBucket": bucket.bucket_name,
                "PrepareRoleArn": roles.prepare.role_arn,
                "TrainingRoleArn": roles.train.role_arn,
                "EvaluateRoleArn": roles.evaluate.role_arn,
                "ModelRoleArn": roles.model.role_arn,
                "JobsImageUri": jobs_image.image_uri,
                "ServingImageUri": serving_image.image_uri,
                "ModelPackageGroupName": registry.group_name,
                "GateFunctionArn": self.gate.function.function_arn,
                "OnCallTopicArn": on_call.topic.topic_arn,
            },
            role=self.role,
            timeout=Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self.state_machine.node.add_dependency(registry.group)
        self._grant_steps(stack, config, roles, registry, on_call)

        self.trigger_dlq = sqs.Queue(
            self,
            "TriggerDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.trigger_dlq,
            "This queue is itself the dead-letter queue of the pipeline's EventBridge targets.",
            "AwsSolutions-SQS3",
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Retrain prodcat {config.stage} on a schedule",
            schedule=events.Schedule.expression(config.pipeline.schedule),
            enabled=config.pipeline.schedule_enabled,
        )
        self.schedule.add_target(self.start_target("schedule"))

    def start_target(self, trigger: str) -> targets.SfnStateMachine:
        """An EventBridge target that starts a run, with retries and the dead-letter queue."""
        return targets.SfnStateMachine(
            self.state_machine,
            input=events.RuleTargetInput.from_object({"trigger": trigger}),
            dead_letter_queue=self.trigger_dlq,
            retry_attempts=4,
            max_event_age=Duration.hours(2),
        )

    def _grant_steps(
        self,
        stack: Stack,
        config: StageConfig,
        roles: SageMakerRolesConstruct,
        registry: ModelRegistryConstruct,
        on_call: OnCallTopicConstruct,
    ) -> None:
        prefix = config.prefix

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        def events_rule(name: str) -> str:
            return stack.format_arn(service="events", resource="rule", resource_name=name)

        statements = [
            iam.PolicyStatement(
                sid="RunJobsOfThisStage",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=[
                    arn("processing-job", f"{prefix}-*"),
                    arn("training-job", f"{prefix}-*"),
                ],
            ),
            iam.PolicyStatement(
                sid="SyncIntegrationEventRules",  # how Step Functions waits for .sync jobs
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    events_rule("StepFunctionsGetEventsForSageMakerTrainingJobsRule"),
                    events_rule("StepFunctionsGetEventsForSageMakerProcessingJobsRule"),
                ],
            ),
            iam.PolicyStatement(
                sid="RegisterInTheGroup",
                actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                resources=[
                    registry.group_arn,
                    arn("model-package", f"{registry.group_name}/*"),
                ],
            ),
            iam.PolicyStatement(
                sid="DeployTheEndpoint",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateEndpoint",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:AddTags",
                ],
                resources=[
                    arn("model", f"{prefix}-*"),
                    arn("endpoint-config", f"{prefix}-*"),
                    arn("endpoint", config.endpoint_name),
                ],
            ),
            iam.PolicyStatement(
                sid="ListCallsHaveNoResourceLevelPermissions",
                actions=["sagemaker:ListModelPackages", "sagemaker:ListEndpoints"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="PassOnlyThePipelineRolesToSageMaker",
                actions=["iam:PassRole"],
                resources=[
                    roles.prepare.role_arn,
                    roles.train.role_arn,
                    roles.evaluate.role_arn,
                    roles.model.role_arn,
                ],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTheGate",
                actions=["lambda:InvokeFunction"],
                resources=[self.gate.function.function_arn],
            )
        )
        on_call.grant_publish(self.role)
        acknowledge(
            self.role,
            "Resources are this stage's name prefix (jobs, models and endpoint configs are "
            "created per run), the model-package versions of this stage's group, Step "
            "Functions' managed .sync event rules, and X-Ray/Logs delivery, which have no "
            "resource-level permissions; ListModelPackages/ListEndpoints accept only '*'; "
            "kms:GenerateDataKey* is on the on-call topic's key only.",
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:processing-job/{prefix}-*]",
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:training-job/{prefix}-*]",
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:model/{prefix}-*]",
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:endpoint-config/{prefix}-*]",
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:model-package/{registry.group_name}/*]",
        )
