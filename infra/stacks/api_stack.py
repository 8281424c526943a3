"""The REST API and its Lambdas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.prediction_api_construct import ApiDependencies, PredictionApiConstruct
from infra.stacks.data_stack import DataStack
from infra.stacks.ml_stack import MlStack


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        source_root: Path,
        data: DataStack,
        ml: MlStack,
        site_origin: str,  # the web page's URL (SiteStack): a CORS origin
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.api = PredictionApiConstruct(
            self,
            "Api",
            config=config,
            source_root=source_root,
            deps=ApiDependencies(
                user_pool=data.users.user_pool,
                user_pool_client=data.users.client,
                request_log=data.tables.request_log,
                products=data.tables.products,
                bucket=data.lake.bucket,
                zones=data.lake.zones,
                endpoint_name=ml.endpoint_name,
            ),
            site_origin=site_origin,
        )

        CfnOutput(self, "ApiUrl", value=self.api.api.url)
        CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id)
