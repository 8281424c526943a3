"""The REST API the website calls: Cognito authorizer, API key + usage plan, throttling,
request validation, access logs, CORS for the configured origins, one Lambda per route group.

Every function runs the same Powertools resolver (`lambdas/api/app.py: handler`),
which dispatches on the path; splitting the routes over functions gives each group its own
role (only the grants it needs), concurrency bound, alarms and logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import api_models
from infra.config import StageConfig
from infra.constructs.dead_letters import dead_letter_queue
from infra.constructs.nag import acknowledge, acknowledge_prefix_grants
from infra.constructs.powertools_function_construct import PowertoolsFunctionConstruct
from infra.constructs.retention import retention
from lambdas.api.identity import NO_API_KEY_MESSAGE, NO_TOKEN_MESSAGE
from lambdas.api.password_policy import PasswordPolicy
from lambdas.api.routes import ROUTES
from lambdas.api.settings import ApiSettings
from prodcat_contracts.lake import DataLakeZones

API_HANDLER = "lambdas.api.app.handler"
# The JSON schema API Gateway validates each body against (the Lambda validates it fully).
_REQUEST_MODELS = {
    ("POST", "/register"): "Credentials",
    ("POST", "/login"): "Credentials",
    ("POST", "/confirm"): "Confirmation",
    ("POST", "/predict"): "PredictRequest",
    ("POST", "/products"): "Product",
    ("POST", "/feedback"): "Feedback",
}

_S3_READ_ACTIONS = (
    "AwsSolutions-IAM5[Action::s3:GetObject*]",
    "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    "AwsSolutions-IAM5[Action::s3:List*]",
)
_S3_WRITE_ACTIONS = ("AwsSolutions-IAM5[Action::s3:Abort*]",)


@dataclass(frozen=True)
class ApiDependencies:
    user_pool: cognito.IUserPool
    user_pool_client: cognito.IUserPoolClient
    request_log: dynamodb.ITable
    products: dynamodb.ITable
    bucket: s3.IBucket
    zones: DataLakeZones
    endpoint_name: str


class PredictionApiConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        source_root: Path,
        deps: ApiDependencies,
        site_origin: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = config.api
        stack = Stack.of(self)
        # prodcat's own web page first: API Gateway's error answers name one origin.
        origins = [*([site_origin] if site_origin else []), *settings.cors_allowed_origins]

        # Records the API accepted but could not store (DynamoDB/S3 errors after retries) land
        # here instead of being lost; an alarm pages on-call when it is not empty.
        self.undelivered = dead_letter_queue(
            self,
            "UndeliveredRecords",
            holds="This queue is the API's dead-letter store for records it could not write.",
        )
        environment = {
            **ApiSettings(
                stage=config.stage,
                user_pool_id=deps.user_pool.user_pool_id,
                user_pool_client_id=deps.user_pool_client.user_pool_client_id,
                request_log_table=deps.request_log.table_name,
                products_table=deps.products.table_name,
                data_lake_bucket=deps.bucket.bucket_name,
                raw_prefix=deps.zones.raw,
                capture_prefix=deps.zones.capture,
                endpoint_name=deps.endpoint_name,
                undelivered_queue_url=self.undelivered.queue_url,
                request_log_ttl_days=config.data.request_log_ttl_days,
                # What the user directory construct creates the pool with, stated on a refusal.
                password_policy=PasswordPolicy(  # type: ignore[arg-type]  # a Json field: its text
                    minimum_length=config.users.password_min_length
                ).model_dump_json(),
            ).environment(),
            "CORS_ALLOWED_ORIGINS": ",".join(origins),
        }

        def function(name: str, description: str) -> PowertoolsFunctionConstruct:
            built = PowertoolsFunctionConstruct(
                self,
                name,
                source_root=source_root,
                handler=API_HANDLER,
                description=description,
                service=f"prodcat-api-{name.lower()}",
                metrics_namespace="prodcat",
                memory_mb=settings.lambda_memory_mb,
                timeout=Duration.seconds(settings.lambda_timeout_seconds),
                reserved_concurrency=settings.lambda_reserved_concurrency,
                log_retention_days=settings.log_retention_days,
                environment=environment,
            )
            self.undelivered.grant_send_messages(built.role)
            return built

        self.auth = function("Auth", "POST /register, /confirm, /login; GET /health")
        deps.user_pool.grant(
            self.auth.role, "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminGetUser"
        )

        self.predict = function("Predict", "POST /predict: top-k product types")
        self.predict.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"],
                resources=[
                    stack.format_arn(
                        service="sagemaker", resource="endpoint", resource_name=deps.endpoint_name
                    )
                ],
            )
        )
        deps.request_log.grant_write_data(self.predict.role)
        deps.bucket.grant_put(self.predict.role, f"{deps.zones.capture}*")

        self.logs = function("Logs", "GET /logs: the caller's prediction requests")
        deps.request_log.grant_read_data(self.logs.role)

        self.products = function("Products", "POST /products, DELETE /products/{id} (admins)")
        deps.products.grant_read_write_data(self.products.role)
        deps.bucket.grant_read_write(self.products.role, f"{deps.zones.raw}products/*")
        deps.bucket.grant_delete(self.products.role, f"{deps.zones.raw}products/*")

        self.feedback = function("Feedback", "POST /feedback: the category the seller chose")
        deps.request_log.grant_read_write_data(self.feedback.role)
        deps.bucket.grant_put(self.feedback.role, f"{deps.zones.raw}feedback/*")
        # The listing's photo is copied out of the expiring capture zone into the label.
        self.feedback.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[deps.bucket.arn_for_objects(f"{deps.zones.capture}*")],
            )
        )

        self.functions = {
            "Auth": self.auth,
            "Predict": self.predict,
            "Logs": self.logs,
            "Products": self.products,
            "Feedback": self.feedback,
        }
        for built, prefix in (
            (self.predict, deps.zones.capture),
            (self.products, f"{deps.zones.raw}products/"),
            (self.feedback, f"{deps.zones.raw}feedback/"),
        ):
            prefixes = (prefix, deps.zones.capture) if built is self.feedback else (prefix,)
            acknowledge_prefix_grants(
                built.role,
                deps.bucket,
                prefixes,
                "Object grants are limited to this route's zone prefix of the data lake; the "
                "wildcard stands for the object keys under it.",
            )
            acknowledge(
                built.role,
                "CDK's S3 grants add s3:Abort* (multipart uploads) on the same prefix.",
                *_S3_WRITE_ACTIONS,
            )
        acknowledge(
            self.products.role,
            "Admins replace and delete product photos and records under raw/products/ only: "
            "GetObject*/List*/DeleteObject* are scoped to that prefix.",
            *_S3_READ_ACTIONS,
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{config.prefix}-api",  # CloudWatch metrics are keyed by this name
            description=f"prodcat {config.stage}: product-type recommendations",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=config.stage,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=origins,
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Content-Type", "Authorization", "X-Api-Key"],
                max_age=Duration.hours(1),
            ),
        )
        acknowledge(
            self.api,
            "API Gateway's account-level CloudWatch role uses the AWS-managed "
            "AmazonAPIGatewayPushToCloudWatchLogs policy, the documented way to enable "
            "execution logs.",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
        )
        acknowledge(
            self.api,
            "No WAF web ACL: it costs a fixed monthly fee per stage; the usage plan, API key, "
            "stage throttling and Cognito bound abuse. Attach one per stage if needed.",
            "AwsSolutions-APIG3",
        )
        self._gateway_responses(origins[0])

        authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[deps.user_pool]
        )
        validator = apigw.RequestValidator(
            self,
            "Validator",
            rest_api=self.api,
            validate_request_body=True,
            validate_request_parameters=True,
        )
        models = self._models()

        def route(
            path: str,
            method: str,
            target: PowertoolsFunctionConstruct,
            *,
            public: bool = False,
            model: str | None = None,
            parameters: dict[str, bool] | None = None,
        ) -> apigw.Method:
            resource = self.api.root.resource_for_path(path)
            added = resource.add_method(
                method,
                apigw.LambdaIntegration(target.function),
                authorizer=None if public else authorizer,
                authorization_type=(
                    apigw.AuthorizationType.NONE if public else apigw.AuthorizationType.COGNITO
                ),
                api_key_required=True,
                request_validator=validator,
                request_models={"application/json": models[model]} if model else None,
                request_parameters=parameters,
            )
            if public:
                acknowledge(
                    added,
                    "Public by design: sign-up, sign-in and the health check are what a caller "
                    "does before holding a token (the API key and throttling still apply).",
                    "AwsSolutions-APIG4",
                    "AwsSolutions-COG4",
                )
            return added

        # Query-string and path parameters API Gateway checks before the Lambda runs.
        parameters = {
            "/logs": {
                "method.request.querystring.limit": False,
                "method.request.querystring.next_token": False,
                "method.request.querystring.user_id": False,
            },
            "/products/{id}": {"method.request.path.id": True},
        }
        for r in ROUTES:
            route(
                r.resource,
                r.method,
                self.functions[r.function],
                public=r.public,
                model=_REQUEST_MODELS.get((r.method, r.resource)),
                parameters=parameters.get(r.resource),
            )

        self.api_key = self.api.add_api_key("WebsiteKey", description="The marketplace website")
        plan = self.api.add_usage_plan(
            "WebsitePlan",
            description="The marketplace website",
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.throttle_rate_limit, burst_limit=settings.throttle_burst_limit
            ),
            quota=apigw.QuotaSettings(
                limit=settings.quota_requests_per_day, period=apigw.Period.DAY
            ),
        )
        plan.add_api_key(self.api_key)
        plan.add_api_stage(stage=self.api.deployment_stage)

    def _gateway_responses(self, origin: str) -> None:
        cors = {
            "Access-Control-Allow-Origin": f"'{origin}'",
            "Vary": "'Origin'",
            # A browser reads Retry-After across origins only when it is exposed.
            "Access-Control-Expose-Headers": "'Retry-After'",
        }
        self.api.add_gateway_response(
            "BadRequestBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            status_code="400",
            response_headers=cors,
            templates={
                "application/json": '{"message": "invalid request body", '
                '"errors": "$context.error.validationErrorString"}'
            },
        )
        self.api.add_gateway_response(
            "Throttled",
            type=apigw.ResponseType.THROTTLED,
            status_code="429",
            response_headers={**cors, "Retry-After": "'1'"},
        )
        for name, response_type, status, message in (
            ("Unauthorized", apigw.ResponseType.UNAUTHORIZED, "401", NO_TOKEN_MESSAGE),
            ("InvalidApiKey", apigw.ResponseType.INVALID_API_KEY, "403", NO_API_KEY_MESSAGE),
        ):
            self.api.add_gateway_response(
                name,
                type=response_type,
                status_code=status,
                response_headers=cors,
                templates={"application/json": json.dumps({"message": message})},
            )
        self.api.add_gateway_response(
            "Default4xx", type=apigw.ResponseType.DEFAULT_4_XX, response_headers=cors
        )
        self.api.add_gateway_response(
            "Default5xx", type=apigw.ResponseType.DEFAULT_5_XX, response_headers=cors
        )

    def _models(self) -> dict[str, apigw.Model]:
        # Derived from the handlers' pydantic models (infra/api_models.py): one schema each.
        return {
            name: self.api.add_model(
                name,
                content_type="application/json",
                model_name=name,
                schema=api_models.json_schema(api_models.draft4(model)),
            )
            for name, model in api_models.REQUEST_MODELS.items()
        }
