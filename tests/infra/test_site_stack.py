"""The web page's stacks: a private, encrypted, TLS-only bucket read only by its CloudFront
distribution (origin access control), security headers, the API's CORS origin, and config.json
written at deploy time without the API key in any template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_helpers import (
    REPO_ROOT,
    Synth,
    cdk_context,
    flatten,
    grants,
    policy_statements,
    resources,
)

from infra.config import CONTEXT_KEY, ConfigError, load_stage_configs
from prodcat.site import content_security_policy

STAGES = ("dev", "prod")
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS-managed cache policy


def one(template: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, cfn_type)
    assert len(found) == 1, (cfn_type, list(found))
    return next(iter(found.items()))


@pytest.mark.parametrize("stage", STAGES)
def test_the_bucket_is_private_encrypted_tls_only_and_read_only_by_the_distribution(
    synth: Synth, stage: str
) -> None:
    site = synth.template(stage, "site")
    bucket_id, bucket = one(site, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "site/"
    assert bucket["DeletionPolicy"] == "Retain"

    _, policy = one(site, "AWS::S3::BucketPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1, allows
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    distribution_id, _ = one(site, "AWS::CloudFront::Distribution")
    source = flatten(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert source.endswith(f":distribution/<{distribution_id}>")
    assert flatten(allow["Resource"]) == f"<{bucket_id}.Arn>/*"


@pytest.mark.parametrize("stage", STAGES)
def test_the_distribution_uses_origin_access_control_https_and_the_security_headers(
    synth: Synth, stage: str
) -> None:
    site = synth.template(stage, "site")
    _, distribution = one(site, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    oac_id, oac = one(site, "AWS::CloudFront::OriginAccessControl")
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert config["DefaultRootObject"] == "index.html"
    headers_id, headers = one(site, "AWS::CloudFront::ResponseHeadersPolicy")
    behaviors = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    for behavior in behaviors:
        assert behavior["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only")
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    (config_behavior,) = config["CacheBehaviors"]
    assert config_behavior["PathPattern"] == "/config.json"
    assert config_behavior["CachePolicyId"] == CACHING_DISABLED  # rewritten by each deploy

    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    policy = flatten(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    # The same policy the local stack serves, with the region's API Gateway hosts allowed.
    api_hosts = policy.split("connect-src 'self' ")[1].split(";")[0]
    assert api_hosts.startswith("https://*.execute-api.")
    assert policy == content_security_policy(api_hosts)
    assert security["ContentSecurityPolicy"]["Override"] is True
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"]["FrameOption"] == "DENY"


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_takes_the_sites_url_as_its_first_cors_origin_and_exposes_retry_after(
    synth: Synth, stage: str
) -> None:
    api = synth.template(stage, "api")
    site_domain = f"<import:prodcat-{stage}-site:ExportsOutputFnGetAttSiteDistribution"
    functions = [
        f
        for f in resources(api, "AWS::Lambda::Function").values()
        if "CORS_ALLOWED_ORIGINS" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert functions
    for function in functions:
        origins = flatten(
            function["Properties"]["Environment"]["Variables"]["CORS_ALLOWED_ORIGINS"]
        )
        first, *others = origins.split(",")
        assert first.startswith("https://" + site_domain), origins
        assert others, "the stage's own cors_allowed_origins stay"
    responses = resources(api, "AWS::ApiGateway::GatewayResponse").values()
    assert responses
    for response in responses:
        parameters = response["Properties"]["ResponseParameters"]
        assert parameters["gatewayresponse.header.Access-Control-Expose-Headers"] == "'Retry-After'"
        origin = flatten(parameters["gatewayresponse.header.Access-Control-Allow-Origin"])
        assert site_domain in origin


@pytest.mark.parametrize("stage", STAGES)
def test_config_json_gets_the_api_url_and_the_key_read_at_deploy_time_with_a_get_on_that_key(
    synth: Synth, stage: str
) -> None:
    site_config = synth.template(stage, "site_config")
    reader_id, reader = one(site_config, "Custom::AWS")
    call = flatten(reader["Properties"]["Create"])
    assert '"action":"getApiKey"' in call and '"includeValue":true' in call
    key_ref = f"<import:prodcat-{stage}-api:ExportsOutputRefApiRestApiWebsiteKey"
    # The reader may GET that one key and nothing else.
    reader_grants = grants(policy_statements(site_config, "AWS679f53fac002430cb0da5b7982bd2287"))
    assert list(reader_grants) == ["apigateway:GET"]
    (key_arn,) = reader_grants["apigateway:GET"]
    assert ":apigateway:" in key_arn and f"::/apikeys/{key_ref}" in key_arn

    _, deployment = one(site_config, "Custom::CDKBucketDeployment")
    props = deployment["Properties"]
    assert props["Prune"] is False  # the page's own files belong to the site stack
    assert flatten(props["DestinationBucketName"]).startswith(
        f"<import:prodcat-{stage}-site:ExportsOutputRefSiteFiles"
    )
    markers = {k: flatten(v) for k, v in props["SourceMarkers"][0].items()}
    values = sorted(markers.values())
    assert any(".execute-api." in v for v in values), values  # the API's URL
    assert f'"<{reader_id}.value>"' in values  # the key: a deploy-time attribute, no literal
    assert "no-store" in json.dumps(props.get("SystemMetadata", {}))

    # No API key value in any template: only references to the key's id.
    for (_, name), template in synth.templates.items():
        for key in resources(template, "AWS::ApiGateway::ApiKey").values():
            assert "Value" not in key["Properties"], name


def test_the_page_is_deployed_from_web_and_invalidated_without_config_json(synth: Synth) -> None:
    site = synth.template("dev", "site")
    _, deployment = one(site, "Custom::CDKBucketDeployment")
    props = deployment["Properties"]
    assert props["Prune"] is True
    assert props["DistributionPaths"] == ["/*"]
    assert "config.json" in json.dumps(props.get("Exclude", []))


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"


@pytest.mark.parametrize(
    ("site", "named"),
    [
        ({"domain_name": "shop.example.fr", "certificate_arn": None}, "go together"),
        ({"domain_name": None, "certificate_arn": CERTIFICATE}, "go together"),
        (
            {
                "domain_name": "shop.example.fr",
                "certificate_arn": CERTIFICATE.replace("us-east-1", "eu-west-3"),
            },
            "us-east-1",
        ),
        ({"domain_name": "https://shop.example.fr", "certificate_arn": CERTIFICATE}, "domain name"),
    ],
)
def test_a_site_domain_needs_its_cloudfront_certificate(site: dict[str, Any], named: str) -> None:
    context = cdk_context()
    context[CONTEXT_KEY]["dev"]["site"] = site
    with pytest.raises(ConfigError, match=rf"prodcat:stages\.dev\.site(?s:.*){named}"):
        load_stage_configs(context, "dev")


def test_a_site_domain_is_served_with_its_certificate_and_becomes_the_api_origin() -> None:
    """The construct alone, in a small stack: the repo's cdk.json states no domain."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from infra.config import SiteConfig
    from infra.constructs.web_site_construct import WebSiteConstruct

    stack = Stack(App(), "SiteWithDomain")
    site = WebSiteConstruct(
        stack,
        "Site",
        web_dir=REPO_ROOT / "web",
        access_logs=s3.Bucket(stack, "Logs"),
        settings=SiteConfig(domain_name="shop.example.fr", certificate_arn=CERTIFICATE),
    )
    assert site.origin == "https://shop.example.fr"
    template = Template.from_stack(stack).to_json()
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    assert config["Aliases"] == ["shop.example.fr"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
