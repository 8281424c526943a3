"""Least-privilege execution roles: one per kind of SageMaker work, each to its own prefixes."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge, acknowledge_prefix_grants, acknowledge_resources
from prodcat_contracts.lake import DataLakeZones


class SageMakerRolesConstruct(Construct):
    """prepare (raw -> curated), train (curated -> artifacts), evaluate (-> reports), model."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        zones: DataLakeZones,
        jobs_image: ecr_assets.DockerImageAsset,
        serving_image: ecr_assets.DockerImageAsset,
        endpoint_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        principal = iam.ServicePrincipal("sagemaker.amazonaws.com")

        self.prepare = iam.Role(
            self,
            "PrepareRole",
            assumed_by=principal,
            description="SageMaker processing: prepare (raw -> curated)",
        )
        bucket.grant_read(self.prepare, f"{zones.raw}*")
        bucket.grant_put(self.prepare, f"{zones.curated}*")
        jobs_image.repository.grant_pull(self.prepare)
        self._logs_and_metrics(self.prepare, stack, "ProcessingJobs")

        self.train = iam.Role(
            self,
            "TrainRole",
            assumed_by=principal,
            description="SageMaker training (curated -> model artifacts)",
        )
        bucket.grant_read(self.train, f"{zones.curated}*")
        bucket.grant_put(self.train, f"{zones.artifacts}*")
        jobs_image.repository.grant_pull(self.train)
        self._logs_and_metrics(self.train, stack, "TrainingJobs")

        self.evaluate = iam.Role(
            self,
            "EvaluateRole",
            assumed_by=principal,
            description="SageMaker processing: evaluate (-> reports)",
        )
        bucket.grant_read(self.evaluate, f"{zones.curated}*")
        bucket.grant_read(self.evaluate, f"{zones.artifacts}*")
        bucket.grant_put(self.evaluate, f"{zones.reports}*")
        jobs_image.repository.grant_pull(self.evaluate)
        self._logs_and_metrics(self.evaluate, stack, "ProcessingJobs")

        self.model = iam.Role(
            self,
            "ModelRole",
            assumed_by=principal,
            description="SageMaker model behind the serverless endpoint",
        )
        bucket.grant_read(self.model, f"{zones.artifacts}*")
        serving_image.repository.grant_pull(self.model)
        self._logs_and_metrics(self.model, stack, f"Endpoints/{endpoint_name}")

        # Reclassifying the catalogue after a deploy: the processing job that lists it and the
        # Batch Transform's model (which reads the photos it names and writes the predictions).
        self.catalogue = iam.Role(
            self,
            "CatalogueRole",
            assumed_by=principal,
            description="SageMaker: catalogue (raw) -> batch transform -> predictions",
        )
        bucket.grant_read(self.catalogue, f"{zones.raw}*")
        bucket.grant_read(self.catalogue, f"{zones.artifacts}*")
        bucket.grant_read(self.catalogue, f"{zones.predictions}*")  # the transform's input
        bucket.grant_put(self.catalogue, f"{zones.predictions}*")
        jobs_image.repository.grant_pull(self.catalogue)
        serving_image.repository.grant_pull(self.catalogue)
        self._logs_and_metrics(self.catalogue, stack, "ProcessingJobs")
        self._logs_and_metrics(self.catalogue, stack, "TransformJobs")

        prefixes = {
            self.catalogue: (zones.raw, zones.artifacts, zones.predictions),
            self.prepare: (zones.raw, zones.curated),
            self.train: (zones.curated, zones.artifacts),
            self.evaluate: (zones.curated, zones.artifacts, zones.reports),
            self.model: (zones.artifacts,),
        }
        for role, zone_prefixes in prefixes.items():
            acknowledge_prefix_grants(
                role,
                bucket,
                zone_prefixes,
                "Object grants are limited to the zones this job reads or writes; the wildcard "
                "stands for the object keys under each zone prefix.",
            )
        for role in (self.prepare, self.train, self.evaluate, self.model, self.catalogue):
            acknowledge(
                role,
                "ECR's GetAuthorizationToken has no resource-level permissions, and "
                "cloudwatch:PutMetricData none either (it is limited by a namespace condition).",
                "AwsSolutions-IAM5[Resource::*]",
            )
            acknowledge(
                role,
                "S3 read grants (GetObject*, GetBucket*, List*) are scoped to this role's zone "
                "prefixes of the data lake; the wildcards are the object keys under a prefix.",
                "AwsSolutions-IAM5[Action::s3:GetObject*]",
                "AwsSolutions-IAM5[Action::s3:GetBucket*]",
                "AwsSolutions-IAM5[Action::s3:List*]",
                "AwsSolutions-IAM5[Action::s3:Abort*]",
            )

    @staticmethod
    def _logs_and_metrics(role: iam.Role, stack: Stack, log_group_suffix: str) -> None:
        log_group = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/{log_group_suffix}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group],
            )
        )
        acknowledge_resources(
            role,
            "SageMaker names its log streams per job/instance at run time; the grant is "
            "limited to SageMaker's own log group for this kind of work.",
            log_group,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
            )
        )
