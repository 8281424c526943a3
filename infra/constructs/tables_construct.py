"""DynamoDB tables: the request log (per user, newest first, expiring) and the product catalogue."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.nag import pin_logical_id

# Key schema: the contract with lambdas/api.
REQUEST_LOG_PARTITION_KEY = "user_id"
REQUEST_LOG_SORT_KEY = "requested_at"  # ISO-8601 UTC + "#" + request id: sorts by time
REQUEST_LOG_TTL_ATTRIBUTE = "expires_at"  # epoch seconds, written by the API
PRODUCT_PARTITION_KEY = "product_id"


class TablesConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, deletion_protection: bool) -> None:
        super().__init__(scope, construct_id)
        self.request_log = dynamodb.Table(
            self,
            "RequestLog",
            partition_key=dynamodb.Attribute(
                name=REQUEST_LOG_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=REQUEST_LOG_SORT_KEY, type=dynamodb.AttributeType.STRING
            ),
            time_to_live_attribute=REQUEST_LOG_TTL_ATTRIBUTE,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,  # nothing per hour at idle
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Labelled products are training data: no TTL, they stay until an admin deletes them.
        self.products = dynamodb.Table(
            self,
            "ProductCatalogue",
            partition_key=dynamodb.Attribute(
                name=PRODUCT_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.RETAIN,
        )
        pin_logical_id(self.request_log, "RequestLogTable")
        pin_logical_id(self.products, "ProductCatalogueTable")
