"""Images and SageMaker execution roles (the model registry is stateful: the data stack).

The serverless endpoint itself is created by the pipeline's first deploy (a CloudFormation
endpoint would need a model that a brand-new deployment does not have yet); its name and
serverless settings are fixed here, from config, and rendered into the pipeline definition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.data_lake_construct import DataLakeConstruct
from infra.constructs.model_images_construct import ModelImagesConstruct
from infra.constructs.sagemaker_roles_construct import SageMakerRolesConstruct


class MlStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        source_root: Path,
        lake: DataLakeConstruct,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.endpoint_name = config.endpoint_name
        self.images = ModelImagesConstruct(self, "Images", source_root=source_root)
        self.roles = SageMakerRolesConstruct(
            self,
            "Roles",
            bucket=lake.bucket,
            zones=lake.zones,
            jobs_image=self.images.jobs,
            serving_image=self.images.serving,
            endpoint_name=config.endpoint_name,
        )
        CfnOutput(self, "EndpointName", value=config.endpoint_name)
