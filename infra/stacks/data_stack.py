"""Stateful resources only: the data lake, the user pool, the tables and the model registry (all
retained)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.data_lake_construct import DataLakeConstruct
from infra.constructs.model_registry_construct import ModelRegistryConstruct
from infra.constructs.tables_construct import TablesConstruct
from infra.constructs.user_directory_construct import UserDirectoryConstruct


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any):
        super().__init__(
            scope, construct_id, termination_protection=config.termination_protection, **kwargs
        )
        self.lake = DataLakeConstruct(self, "DataLake", settings=config.data)
        self.users = UserDirectoryConstruct(
            self, "Users", settings=config.users, deletion_protection=config.termination_protection
        )
        self.tables = TablesConstruct(
            self, "Tables", deletion_protection=config.termination_protection
        )
        # Every trained model, Approved or Rejected, with its metrics: audit history.
        self.registry = ModelRegistryConstruct(
            self, "Registry", name_prefix=f"{config.prefix}-models"
        )
        CfnOutput(self, "DataLakeBucketName", value=self.lake.bucket.bucket_name)
        CfnOutput(self, "UserPoolId", value=self.users.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.users.client.user_pool_client_id)
        CfnOutput(self, "ModelPackageGroupName", value=self.registry.group_name)
