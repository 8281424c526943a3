"""The S3 data lake (zones as prefixes of one versioned bucket: prodcat_contracts/lake.py) and its
access-log bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import DataConfig
from infra.constructs.nag import acknowledge, pin_logical_id
from prodcat_contracts.lake import ZONES


class DataLakeConstruct(Construct):
    """Encrypted, TLS-only, private, versioned lake; lifecycle per zone; access logs kept."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: DataConfig) -> None:
        super().__init__(scope, construct_id)
        self.zones = ZONES
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery cannot write SSE-KMS
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(settings.access_logs_expire_after_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self.access_logs,
            "This bucket is the server-access-log target; logging it into itself would loop.",
            "AwsSolutions-S1",
        )
        self.bucket = s3.Bucket(
            self,
            "Lake",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="lake/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="raw-to-cheaper-storage",
                    prefix=ZONES.raw,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(
                                settings.raw_infrequent_access_after_days
                            ),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(settings.raw_glacier_after_days),
                        ),
                    ],
                ),
                s3.LifecycleRule(
                    id="capture-expires",
                    prefix=ZONES.capture,
                    expiration=Duration.days(settings.capture_expire_after_days),
                ),
                s3.LifecycleRule(
                    id="old-versions-expire",
                    noncurrent_version_expiration=Duration.days(
                        settings.noncurrent_versions_expire_after_days
                    ),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
        )
        # Logical IDs of stateful resources are a contract: a change would replace the bucket.
        pin_logical_id(self.access_logs, "DataLakeAccessLogsBucket")
        pin_logical_id(self.bucket, "DataLakeBucket")
