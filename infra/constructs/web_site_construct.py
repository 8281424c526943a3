"""The web page (web/): a private S3 bucket behind CloudFront, and its config.json.

Two constructs, because the page and the API each need something of the other: the API's CORS
origin is the distribution's URL (so the site comes first), and config.json holds the API's URL
and the website's API key (so it is written after the API, by the API stack, into the site's
bucket). The page itself holds no setting: everything it needs is in config.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import SiteConfig
from infra.constructs.nag import acknowledge, attribute_ref, nag_spelling
from prodcat.site import SECURITY_HEADERS, content_security_policy, site_config

CONFIG_FILE = "config.json"
# CDK's singleton custom-resource functions (aws-cdk-lib's own code, on the runtime CDK pins):
# found by these ids to give them their acknowledgments.
BUCKET_DEPLOYMENT_FUNCTION = "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C"
AWS_CUSTOM_RESOURCE_FUNCTION = "AWS679f53fac002430cb0da5b7982bd2287"


class WebSiteConstruct(Construct):
    """The page's files in a private, encrypted, TLS-only bucket that only this distribution reads
    (origin access control), served with a strict Content-Security-Policy and security headers."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        web_dir: Path,
        access_logs: s3.IBucket,
        settings: SiteConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="site/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))],
            # Kept on teardown like every bucket here (emptying it would take another
            # custom-resource function); the files are rebuilt by any deploy.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The page calls the API from the browser: API Gateway's execute-api hosts of this
        # region (the API's own URL is not known yet: it is created after this stack).
        stack = Stack.of(self)
        api_origin = f"https://*.execute-api.{stack.region}.{stack.url_suffix}"
        sts = SECURITY_HEADERS["Strict-Transport-Security"]
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="prodcat web page: CSP, HSTS, nosniff, no framing, no referrer",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(api_origin), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(int(sts.split("=")[1].split(";")[0])),
                    include_subdomains=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        origin = origins.S3BucketOrigin.with_origin_access_control(self.bucket)
        # A domain of the stage's own, with its certificate (SiteConfig checks they go together).
        own_domain = None
        if settings.domain_name is not None and settings.certificate_arn is not None:
            own_domain = (
                [settings.domain_name],
                acm.Certificate.from_certificate_arn(self, "Certificate", settings.certificate_arn),
            )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="prodcat web page",
            domain_names=own_domain[0] if own_domain else None,
            certificate=own_domain[1] if own_domain else None,
            default_root_object="index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
            ),
            additional_behaviors={
                # Rewritten by every API deploy: never cached.
                f"/{CONFIG_FILE}": cloudfront.BehaviorOptions(
                    origin=origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    response_headers_policy=self.headers,
                )
            },
        )
        acknowledge(
            self.distribution,
            "The page is for sellers anywhere; the API behind it has its own throttling, quota "
            "and Cognito authorizer, so no geo restriction and no WAF web ACL (a fixed monthly "
            "fee per stage; attach one per stage if needed).",
            "AwsSolutions-CFR1",
            "AwsSolutions-CFR2",
        )
        acknowledge(
            self.distribution,
            "Static files only: the bucket's server access logs record every read CloudFront "
            "makes; standard CloudFront logs would need an ACL-enabled bucket.",
            "AwsSolutions-CFR3",
        )
        if not own_domain:
            acknowledge(
                self.distribution,
                "Served on the default *.cloudfront.net certificate, which CloudFront pins to "
                "TLSv1; a domain of the stage's own (site.domain_name and certificate_arn in "
                "cdk.json) gets TLSv1.2_2021 from minimum_protocol_version.",
                "AwsSolutions-CFR4",
            )
        domain = settings.domain_name or self.distribution.distribution_domain_name
        self.origin = f"https://{domain}"
        self.deployment = s3_deployment.BucketDeployment(
            self,
            "Deploy",
            destination_bucket=self.bucket,
            sources=[s3_deployment.Source.asset(str(web_dir))],
            exclude=[CONFIG_FILE],  # written by WebSiteConfigConstruct
            prune=True,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )
        _acknowledge_cdk_function(stack, BUCKET_DEPLOYMENT_FUNCTION, "copies the page's files")


class WebSiteConfigConstruct(Construct):
    """config.json in the site's bucket: the API's URL, the website's API key (read from API
    Gateway at deploy time, never in the template) and the product types."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site: WebSiteConstruct,
        api: apigw.RestApi,
        api_key: apigw.IApiKey,
        stage: str,
        password_rule: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        key_arn = stack.format_arn(
            service="apigateway", account="", resource="/apikeys", resource_name=api_key.key_id
        )
        key_value = cr.AwsCustomResource(
            self,
            "ApiKeyValue",
            on_update=cr.AwsSdkCall(
                service="APIGateway",
                action="getApiKey",
                parameters={"apiKey": api_key.key_id, "includeValue": True},
                physical_resource_id=cr.PhysicalResourceId.of(api_key.key_id),
                output_paths=["value"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["apigateway:GET"], resources=[key_arn])]
            ),
            install_latest_aws_sdk=False,
        )
        config: dict[str, Any] = site_config(
            api.url, key_value.get_response_field("value"), stage, password_rule
        )
        self.deployment = s3_deployment.BucketDeployment(
            self,
            "Deploy",
            destination_bucket=site.bucket,
            sources=[s3_deployment.Source.json_data(CONFIG_FILE, config)],
            prune=False,  # the page's files are WebSiteConstruct's
            cache_control=[s3_deployment.CacheControl.no_store()],
            memory_limit=256,
        )
        _acknowledge_cdk_function(
            stack, BUCKET_DEPLOYMENT_FUNCTION, "writes config.json", (site.bucket,)
        )
        _acknowledge_cdk_function(
            stack, AWS_CUSTOM_RESOURCE_FUNCTION, "reads the website's API key at deploy time"
        )


def _acknowledge_cdk_function(
    stack: Stack, function_id: str, what: str, other_stack_buckets: tuple[s3.IBucket, ...] = ()
) -> None:
    """CDK's own singleton deploy-time function: its runtime, its managed logging policy and
    the wildcard object grants of BucketDeployment are CDK's, not ours to change. The findings
    are spelled from the role's actual policy (nag_spelling), so a new grant is not hidden."""
    # BucketDeployment's id carries its memory size (…256MiB): match the prefix.
    for function in [c for c in stack.node.children if c.node.id.startswith(function_id)]:
        role = function.node.find_child("ServiceRole")
        logs = iam.ManagedPolicy.from_aws_managed_policy_name(
            "service-role/AWSLambdaBasicExecutionRole"
        ).managed_policy_arn
        findings = ["AwsSolutions-L1", f"AwsSolutions-IAM4[Policy::{nag_spelling(role, logs)}]"]
        # Exported from another stack: spelled as the export CDK will generate.
        findings += [
            f"AwsSolutions-IAM5[Resource::{attribute_ref(role, b, 'Arn')}/*]"
            for b in other_stack_buckets
        ]
        policy = role.node.try_find_child("DefaultPolicy")
        if isinstance(policy, iam.Policy):
            document = stack.resolve(policy.document.to_json())
            for statement in document.get("Statement", []):
                findings += [
                    f"AwsSolutions-IAM5[Action::{a}]"
                    for a in _listed(statement["Action"])
                    if "*" in a
                ]
                findings += [
                    f"AwsSolutions-IAM5[Resource::{nag_spelling(role, r)}]"
                    for r in _listed(statement.get("Resource", []))
                    if "*" in json.dumps(r)
                ]
        acknowledge(
            function,
            f"aws-cdk-lib's deploy-time function ({what}): CDK picks its runtime and attaches "
            "AWSLambdaBasicExecutionRole for its logs; BucketDeployment grants object-level "
            "actions on the site bucket's objects (bucket/*) and on the CDK asset bucket it copies "
            "from, and CloudFront's CreateInvalidation, which has no resource-level permissions.",
            *dict.fromkeys(findings),
        )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
