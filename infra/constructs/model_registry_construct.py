"""The SageMaker Model Package Group: every trained model, Approved or Rejected, with metrics."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct


class ModelRegistryConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, group_name: str) -> None:
        super().__init__(scope, construct_id)
        # A fixed name: the pipeline and the API find the registry by it (no lookups at run time).
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=group_name,
            model_package_group_description="prodcat models: product-type classifiers",
        )
        # Model history is audit data: keep it when the stack goes.
        self.group.apply_removal_policy(RemovalPolicy.RETAIN)
        self.group.override_logical_id("ModelPackageGroup")
        self.group_name = group_name
        self.group_arn = self.group.attr_model_package_group_arn
