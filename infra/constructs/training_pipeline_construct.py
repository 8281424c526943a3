"""The retrain -> evaluate -> gate -> deploy state machine (definition in step_functions/),
its gate and smoke-test Lambdas, the role it acts with, and the EventBridge schedule that starts
it (the drift alarm's rule lives in the monitoring stack)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import pipeline_settings
from infra.config import StageConfig
from infra.constructs.model_registry_construct import ModelRegistryConstruct
from infra.constructs.nag import (
    acknowledge,
    acknowledge_prefix_grants,
    acknowledge_resources,
    attribute_ref,
)
from infra.constructs.on_call_topic_construct import OnCallTopicConstruct
from infra.constructs.powertools_function_construct import PowertoolsFunctionConstruct
from infra.constructs.rollback_alarms import rollback_alarm_names
from infra.constructs.sagemaker_roles_construct import SageMakerRolesConstruct
from infra.constructs.scheduled_state_machine_construct import ScheduledStateMachineConstruct
from prodcat_contracts.lake import (
    DATASET_MANIFEST,
    PRODUCTION_BASELINE_KEY,
    PRODUCTION_METRICS_KEY,
    DataLakeZones,
)
from step_functions import trigger
from step_functions.definition import PipelineDefinitionSettings, build_definition


def state_machine_name(config: StageConfig) -> str:
    """Fixed, so that the role can be granted ListExecutions on its own state machine (a
    reference would be a cycle) and `prodcat pipeline start` finds it by convention."""
    return trigger.state_machine_name(config.stage)


def definition_settings(config: StageConfig, zones: DataLakeZones) -> PipelineDefinitionSettings:
    """The static half of the definition, from the stage config."""
    return pipeline_settings.definition_settings(config, zones, rollback_alarm_names(config.stage))


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
            reserved_concurrency=None,  # one run at a time calls it once: nothing to reserve
            log_retention_days=config.pipeline.log_retention_days,
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

        self.smoke = PowertoolsFunctionConstruct(
            self,
            "Smoke",
            source_root=source_root,
            handler="lambdas.pipeline.smoke.handler",
            description="Post-deploy smoke test: known listings through the endpoint",
            service="prodcat-smoke",
            metrics_namespace="prodcat",
            memory_mb=256,
            # A few listings, the first of them through a serverless cold start.
            timeout=Duration.minutes(6),
            reserved_concurrency=None,
            log_retention_days=config.pipeline.log_retention_days,
        )
        bucket.grant_read(self.smoke.role, f"{zones.reports}*")
        self.smoke.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeThisStagesEndpoint",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[
                    stack.format_arn(
                        service="sagemaker", resource="endpoint", resource_name=config.endpoint_name
                    )
                ],
            )
        )
        acknowledge_prefix_grants(
            self.smoke.role,
            bucket,
            (zones.reports,),
            "The smoke test reads smoke_cases.json under the reports zone, keyed per run.",
        )
        acknowledge(
            self.smoke.role,
            "Read-only S3 grant (GetObject*, GetBucket*, List*) scoped to the reports prefix.",
            "AwsSolutions-IAM5[Action::s3:GetObject*]",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:List*]",
        )
        self.functions = {"Gate": self.gate.function, "Smoke": self.smoke.function}

        self.definition = build_definition(definition_settings(config, zones))
        machine = ScheduledStateMachineConstruct(
            self,
            "Default",  # no new path component in logical ids (see that module)
            state_machine_name=state_machine_name(config),
            definition=self.definition,
            substitutions={
                "DataLakeBucket": bucket.bucket_name,
                "PrepareRoleArn": roles.prepare.role_arn,
                "TrainingRoleArn": roles.train.role_arn,
                "EvaluateRoleArn": roles.evaluate.role_arn,
                "ModelRoleArn": roles.model.role_arn,
                "JobsImageUri": jobs_image.image_uri,
                "ServingImageUri": serving_image.image_uri,
                # The hash of the jobs image's build context: the code that prepared the data
                # and trained the model (lineage in the registry and in dataset.json).
                "CodeVersion": jobs_image.asset_hash,
                "ModelPackageGroupName": registry.group_name,
                "GateFunctionArn": self.gate.function.function_arn,
                "SmokeFunctionArn": self.smoke.function.function_arn,
                "OnCallTopicArn": on_call.topic.topic_arn,
                "CatalogueRoleArn": roles.catalogue.role_arn,
            },
            description="prodcat retraining state machine",
            timeout=Duration.hours(24),
            log_retention_days=config.pipeline.log_retention_days,
            schedule=config.pipeline.schedule,
            schedule_description=f"Retrain prodcat {config.stage} on a schedule",
            schedule_enabled=config.pipeline.schedule_enabled,
            dead_letters_hold="This queue is itself the dead-letter queue of the pipeline's "
            "EventBridge targets.",
        )
        self.role = machine.role
        self.state_machine = machine.state_machine
        self.trigger_dlq = machine.trigger_dlq
        self.schedule = machine.schedule
        self.state_machine.node.add_dependency(registry.group)
        self._grant_steps(stack, config, bucket, zones, roles, registry, on_call)

    def _grant_steps(
        self,
        stack: Stack,
        config: StageConfig,
        bucket: s3.IBucket,
        zones: DataLakeZones,
        roles: SageMakerRolesConstruct,
        registry: ModelRegistryConstruct,
        on_call: OnCallTopicConstruct,
    ) -> None:
        prefix = config.prefix

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        def events_rule(name: str) -> str:
            return stack.format_arn(service="events", resource="rule", resource_name=name)

        def colon_arn(service: str, resource: str, name: str) -> str:
            return stack.format_arn(
                service=service,
                resource=resource,
                resource_name=name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )

        dataset_objects = bucket.arn_for_objects(f"{zones.curated}*/{DATASET_MANIFEST}")
        report_objects = [
            bucket.arn_for_objects(f"{zones.reports}*/challenger/{name}")
            for name in ("metrics.json", "baseline.json")
        ]
        production_objects = [
            bucket.arn_for_objects(key) for key in (PRODUCTION_METRICS_KEY, PRODUCTION_BASELINE_KEY)
        ]
        # Reclassifying the catalogue after a deploy (a Batch Transform), where the stage has it.
        reclassify = config.pipeline.reclassify_catalogue.enabled
        per_run_jobs = [arn("processing-job", f"{prefix}-*"), arn("training-job", f"{prefix}-*")]
        transform_actions = ["CreateTransformJob", "DescribeTransformJob", "StopTransformJob"]
        if reclassify:
            per_run_jobs.append(arn("transform-job", f"{prefix}-*"))
        per_run_models = [arn("model", f"{prefix}-*"), arn("endpoint-config", f"{prefix}-*")]
        package_versions = arn("model-package", f"{registry.name_pattern}/*")
        statements = [
            iam.PolicyStatement(
                sid="OneRunAtATime",  # the guard lists this state machine's running executions
                actions=["states:ListExecutions"],
                resources=[colon_arn("states", "stateMachine", state_machine_name(config))],
            ),
            iam.PolicyStatement(
                sid="RunJobsOfThisStage",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    *(f"sagemaker:{action}" for action in transform_actions if reclassify),
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=per_run_jobs,
            ),
            iam.PolicyStatement(
                sid="SyncIntegrationEventRules",  # how Step Functions waits for .sync jobs
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    events_rule("StepFunctionsGetEventsForSageMakerTrainingJobsRule"),
                    events_rule("StepFunctionsGetEventsForSageMakerProcessingJobsRule"),
                    *(
                        [events_rule("StepFunctionsGetEventsForSageMakerTransformJobsRule")]
                        if reclassify
                        else []
                    ),
                ],
            ),
            iam.PolicyStatement(
                sid="ReadTheDatasetManifest",
                actions=["s3:GetObject"],
                resources=[dataset_objects],
            ),
            iam.PolicyStatement(
                sid="RegisterInTheGroup",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:UpdateModelPackage",
                ],
                resources=[
                    registry.group_arn,
                    package_versions,
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
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[*per_run_models, arn("endpoint", config.endpoint_name)],
            ),
            iam.PolicyStatement(
                sid="ReadTheAutoRollbackAlarms",  # UpdateEndpoint's DeploymentConfig names them
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    colon_arn("cloudwatch", "alarm", name)
                    for name in rollback_alarm_names(config.stage)
                ],
            ),
            iam.PolicyStatement(
                sid="PublishTheProductionReports",  # CopyObject: read the run's, write the fixed keys
                actions=["s3:GetObject"],
                resources=report_objects,
            ),
            iam.PolicyStatement(
                sid="WriteTheProductionReports",
                actions=["s3:PutObject"],
                resources=production_objects,
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
                    *([roles.catalogue.role_arn] if reclassify else []),
                ],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="InvokeThePipelineFunctions",
                actions=["lambda:InvokeFunction"],
                resources=[self.gate.function.function_arn, self.smoke.function.function_arn],
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        on_call.grant_publish(self.role)
        lake = attribute_ref(self.role, bucket, "Arn")
        acknowledge(
            self.role,
            "X-Ray and Logs delivery have no resource-level permissions; ListModelPackages/ListEndpoints accept only '*'; "
            "kms:GenerateDataKey* is on the on-call topic's key only; the S3 object wildcards "
            "stand for the run id in this run's dataset.json and challenger reports.",
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            f"AwsSolutions-IAM5[Resource::{lake}/{zones.curated}*/{DATASET_MANIFEST}]",
            f"AwsSolutions-IAM5[Resource::{lake}/{zones.reports}*/challenger/metrics.json]",
            f"AwsSolutions-IAM5[Resource::{lake}/{zones.reports}*/challenger/baseline.json]",
        )
        acknowledge_resources(
            self.role,
            "Jobs, models and endpoint configs are created per run under this stage's name "
            "prefix; model-package versions are numbered by SageMaker inside this stage's "
            "registry group, whose name ends with its stack's id.",
            *per_run_jobs,
            *per_run_models,
            package_versions,
        )
