"""One deployment of prodcat (dev, prod, ...): eight stacks wired by object references."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Environment, Stage, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import LAMBDA_UNRESERVED_MINIMUM, ConfigError, StageConfig
from infra.stacks.api_stack import ApiStack
from infra.stacks.data_stack import DataStack
from infra.stacks.ml_stack import MlStack
from infra.stacks.monitoring_stack import MonitoringStack
from infra.stacks.on_call_stack import OnCallStack
from infra.stacks.pipeline_stack import PipelineStack
from infra.stacks.site_stack import SiteConfigStack, SiteStack


class ProdcatStage(Stage):
    """`cdk deploy -c stage=dev --all` deploys the eight stacks of this stage, in order."""

    def __init__(
        self, scope: Construct, *, config: StageConfig, source_root: Path, env: Environment
    ) -> None:
        super().__init__(scope, config.stage, env=env)
        self.config = config
        name = config.prefix
        self.data = DataStack(
            self,
            "Data",
            config=config,
            stack_name=f"{name}-data",
            description="prodcat stateful resources: data lake, user pool, tables, model registry "
            "(retained)",
        )
        self.on_call = OnCallStack(
            self,
            "OnCall",
            config=config,
            stack_name=f"{name}-oncall",
            description="prodcat on-call SNS topic",
        )
        self.ml = MlStack(
            self,
            "Ml",
            config=config,
            source_root=source_root,
            lake=self.data.lake,
            stack_name=f"{name}-ml",
            description="prodcat images and SageMaker roles",
        )
        self.pipeline = PipelineStack(
            self,
            "Pipeline",
            config=config,
            source_root=source_root,
            lake=self.data.lake,
            ml=self.ml,
            registry=self.data.registry,
            on_call=self.on_call.on_call,
            stack_name=f"{name}-pipeline",
            description="prodcat retrain -> evaluate -> gate -> deploy pipeline",
        )
        self.site = SiteStack(
            self,
            "Site",
            config=config,
            web_dir=source_root / "web",
            data=self.data,
            stack_name=f"{name}-site",
            description="prodcat web page: S3 + CloudFront",
        )
        self.api = ApiStack(
            self,
            "Api",
            config=config,
            source_root=source_root,
            data=self.data,
            ml=self.ml,
            site_origin=self.site.site.origin,
            stack_name=f"{name}-api",
            description="prodcat REST API",
        )
        self.site_config = SiteConfigStack(
            self,
            "SiteConfig",
            config=config,
            site=self.site,
            api=self.api,
            stack_name=f"{name}-site-config",
            description="prodcat web page's config.json: the API's URL and the website's key",
        )
        self.monitoring = MonitoringStack(
            self,
            "Monitoring",
            config=config,
            on_call=self.on_call,
            ml=self.ml,
            pipeline=self.pipeline,
            api=self.api,
            lake=self.data.lake,
            stack_name=f"{name}-monitoring",
            description="prodcat alarms and dashboard",
        )
        Tags.of(self).add("project", "prodcat")
        Tags.of(self).add("stage", config.stage)
        self._check_reserved_concurrency()

    def _check_reserved_concurrency(self) -> None:
        """Refuse at synth what Lambda would refuse halfway through a deploy."""
        reserved = sum(
            node.reserved_concurrent_executions or 0
            for node in self.node.find_all()
            if isinstance(node, lambda_.CfnFunction)
        )
        allowed = self.config.lambda_concurrency_quota - LAMBDA_UNRESERVED_MINIMUM
        if reserved > allowed:
            raise ConfigError(
                f"stage {self.config.stage} reserves {reserved} concurrent Lambda executions, "
                f"but a quota of {self.config.lambda_concurrency_quota} "
                f"(lambda_concurrency_quota) leaves room for {max(allowed, 0)}: Lambda keeps "
                f"{LAMBDA_UNRESERVED_MINIMUM} unreserved. Lower api.lambda_reserved_concurrency "
                "or raise the account's quota (Service Quotas L-B99A9384) and this setting."
            )

    @property
    def stacks(self) -> dict[str, object]:
        return {
            "data": self.data,
            "oncall": self.on_call,
            "ml": self.ml,
            "pipeline": self.pipeline,
            "site": self.site,
            "api": self.api,
            "site_config": self.site_config,
            "monitoring": self.monitoring,
        }
