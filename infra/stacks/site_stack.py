"""The web page: bucket, CloudFront distribution and files before the API (whose CORS origin
is the distribution's URL); its config.json after the API (which it points to)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.web_site_construct import WebSiteConfigConstruct, WebSiteConstruct
from infra.stacks.api_stack import ApiStack
from infra.stacks.data_stack import DataStack
from lambdas.api.password_policy import PasswordPolicy


class SiteStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        web_dir: Path,
        data: DataStack,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.site = WebSiteConstruct(
            self,
            "Site",
            web_dir=web_dir,
            access_logs=data.lake.access_logs,
            settings=config.site,
        )
        CfnOutput(self, "SiteUrl", value=self.site.origin + "/")
        CfnOutput(self, "SiteBucketName", value=self.site.bucket.bucket_name)


class SiteConfigStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        site: SiteStack,
        api: ApiStack,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.site_config = WebSiteConfigConstruct(
            self,
            "SiteConfig",
            site=site.site,
            api=api.api.api,
            api_key=api.api.api_key,
            stage=config.stage,
            # The pool's own rule (the user directory construct creates it from the same).
            password_rule=PasswordPolicy(
                minimum_length=config.users.password_min_length
            ).describe(),
        )
