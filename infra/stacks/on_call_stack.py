"""The on-call topic, first so that the pipeline and the alarms can both notify through it."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.on_call_topic_construct import OnCallTopicConstruct


class OnCallStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.on_call = OnCallTopicConstruct(self, "OnCall", email=config.monitoring.oncall_email)
