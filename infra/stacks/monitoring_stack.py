"""Alarms, the dashboard, the scheduled drift check, and (optionally) the drift alarm starting
a retraining run."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.data_lake_construct import DataLakeConstruct
from infra.constructs.dead_letters import dead_letter_queue
from infra.constructs.drift_check_construct import DriftCheckConstruct
from infra.constructs.monitoring_construct import MonitoredResources, MonitoringConstruct
from infra.stacks.api_stack import ApiStack
from infra.stacks.ml_stack import MlStack
from infra.stacks.on_call_stack import OnCallStack
from infra.stacks.pipeline_stack import PipelineStack


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        on_call: OnCallStack,
        ml: MlStack,
        pipeline: PipelineStack,
        api: ApiStack,
        lake: DataLakeConstruct,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        pipeline_construct = pipeline.pipeline
        self.drift_check = DriftCheckConstruct(
            self,
            "DriftCheck",
            config=config,
            bucket=lake.bucket,
            zones=lake.zones,
            jobs_image=ml.images.jobs,
        )
        self.monitoring = MonitoringConstruct(
            self,
            "Monitoring",
            settings=config.monitoring,
            topic=on_call.on_call.topic,
            resources=MonitoredResources(
                stage=config.stage,
                api=api.api.api,
                functions={
                    **{name: f.function for name, f in api.api.functions.items()},
                    **pipeline_construct.functions,
                },
                endpoint_name=ml.endpoint_name,
                state_machine=pipeline_construct.state_machine,
                queues={
                    "ApiUndeliveredRecords": api.api.undelivered,
                    "PipelineTriggerDeadLetters": pipeline_construct.trigger_dlq,
                    "DriftCheckTriggerDeadLetters": self.drift_check.trigger_dlq,
                },
                drift_check=self.drift_check.state_machine,
            ),
        )
        if config.pipeline.retrain_on_drift:
            # Its own dead-letter queue: the pipeline stack's would need a policy naming this
            # stack's rule, a dependency cycle.
            dlq = dead_letter_queue(
                self,
                "DriftTriggerDeadLetters",
                holds="This queue is itself the dead-letter queue of the drift rule's target.",
            )
            rule = events.Rule(
                self,
                "RetrainOnDrift",
                description="Start a retraining run when the drift alarm fires",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=["CloudWatch Alarm State Change"],
                    resources=[self.monitoring.alarms["DriftScore"].alarm_arn],
                    detail={"state": {"value": ["ALARM"]}},
                ),
            )
            rule.add_target(
                targets.SfnStateMachine(
                    pipeline_construct.state_machine,
                    input=events.RuleTargetInput.from_object({"trigger": "drift"}),
                    dead_letter_queue=dlq,
                    retry_attempts=4,
                    max_event_age=Duration.hours(2),
                )
            )
