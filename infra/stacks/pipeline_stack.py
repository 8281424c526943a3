"""The retraining state machine, its gate and smoke-test Lambdas and its schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.data_lake_construct import DataLakeConstruct
from infra.constructs.model_registry_construct import ModelRegistryConstruct
from infra.constructs.on_call_topic_construct import OnCallTopicConstruct
from infra.constructs.training_pipeline_construct import TrainingPipelineConstruct
from infra.stacks.ml_stack import MlStack


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        source_root: Path,
        lake: DataLakeConstruct,
        ml: MlStack,
        registry: ModelRegistryConstruct,
        on_call: OnCallTopicConstruct,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.pipeline = TrainingPipelineConstruct(
            self,
            "Pipeline",
            config=config,
            source_root=source_root,
            bucket=lake.bucket,
            zones=lake.zones,
            roles=ml.roles,
            jobs_image=ml.images.jobs,
            serving_image=ml.images.serving,
            registry=registry,
            on_call=on_call,
        )
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn)
        # `prodcat pipeline start --stage <stage>` finds the state machine by this name.
        CfnOutput(self, "StateMachineName", value=self.pipeline.state_machine.state_machine_name)
