"""A Step Functions state machine from a plain ASL definition (step_functions/), with what
every one of prodcat's needs around it: its execution log group, the role it acts with, an
EventBridge schedule that starts it, and the dead-letter queue of the targets that start it.
Used by the retraining pipeline and the drift check; each grants its role what its steps do.

Both create it with the id "Default", which CDK leaves out of logical ids: the log groups,
queues and state machines keep the logical ids they had before this construct existed, so
a deploy updates them in place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.dead_letters import dead_letter_queue
from infra.constructs.retention import retention


class ScheduledStateMachineConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: Mapping[str, Any],
        substitutions: Mapping[str, str],
        description: str,
        timeout: Duration,
        log_retention_days: int,
        schedule: str,
        schedule_description: str,
        schedule_enabled: bool = True,
        dead_letters_hold: str,
        state_machine_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=retention(log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=description,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition)),
            definition_substitutions=dict(substitutions),
            role=self.role,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self.trigger_dlq = dead_letter_queue(self, "TriggerDeadLetters", holds=dead_letters_hold)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=schedule_description,
            schedule=events.Schedule.expression(schedule),
            enabled=schedule_enabled,
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
