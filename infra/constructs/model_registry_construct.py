"""The SageMaker Model Package Group: every trained model, Approved or Rejected, with metrics."""

from __future__ import annotations

from aws_cdk import Fn, RemovalPolicy, Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct


class ModelRegistryConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str) -> None:
        super().__init__(scope, construct_id)
        # Group names are unique per account and region, and the group outlives its stack
        # (model history is audit data). A fixed name would make the next create of this stack
        # (after a destroy) fail with "already exists", so the name carries the first block of
        # this stack's id, a UUID CloudFormation draws at each create and keeps on updates.
        # The pipeline and the API get the name as a deploy-time value (no lookups at run time).
        stack_uuid = Fn.select(2, Fn.split("/", Stack.of(self).stack_id))
        self.group_name = f"{name_prefix}-{Fn.select(0, Fn.split('-', stack_uuid))}"
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=self.group_name,
            model_package_group_description="prodcat models: product-type classifiers",
        )
        # Kept when the stack is deleted; removed when the stack's own first create rolls back
        # (CloudFormation's RetainExceptOnCreate), so a failed first deploy leaves nothing.
        self.group.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        self.group.override_logical_id("ModelPackageGroup")
        self.group_arn = self.group.attr_model_package_group_arn
        # For IAM: this stage's groups, whichever stack created them.
        self.name_pattern = f"{name_prefix}-*"
