"""The REST API: auth per route, API key + usage plan, throttling, validation, logs, CORS,
Lambdas (Powertools layer, X-Ray, bounded concurrency) with per-route grants."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import Synth, flatten, grants, lake_prefixes, policy_statements, resources

from infra.constructs.powertools_function_construct import POWERTOOLS_LAYER_PARAMETER
from infra.constructs.prediction_api_construct import API_HANDLER
from lambdas.api.identity import NO_API_KEY_MESSAGE, NO_TOKEN_MESSAGE
from lambdas.api.password_policy import PasswordPolicy

PUBLIC = {("GET", "health"), ("POST", "register"), ("POST", "confirm"), ("POST", "login")}
PROTECTED = {
    ("POST", "predict"),
    ("GET", "logs"),
    ("POST", "products"),
    ("DELETE", "productsid"),
    ("POST", "feedback"),
}


def _api(synth: Synth, stage: str = "dev") -> dict[str, Any]:
    return synth.template(stage, "api")


def _methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for logical_id, method in resources(template, "AWS::ApiGateway::Method").items():
        props = method["Properties"]
        if props["HttpMethod"] == "OPTIONS":
            continue
        path = logical_id.removeprefix("ApiRestApi").removesuffix(logical_id[-8:])
        out[(props["HttpMethod"], path.removesuffix(props["HttpMethod"]))] = props
    return out


def test_routes_auth_api_key_and_validation(synth: Synth) -> None:
    methods = _methods(_api(synth))
    assert set(methods) == PUBLIC | PROTECTED
    for route, props in methods.items():
        assert props["ApiKeyRequired"] is True, route
        assert "RequestValidatorId" in props, route
        if route in PUBLIC:
            assert props["AuthorizationType"] == "NONE", route
        else:
            assert props["AuthorizationType"] == "COGNITO_USER_POOLS", route
            assert props["AuthorizerId"]["Ref"].startswith("ApiAuthorizer"), route
    predict = methods[("POST", "predict")]
    assert predict["RequestModels"]["application/json"]["Ref"].startswith("ApiRestApiPredict")


def test_authorizer_uses_the_user_pool(synth: Synth) -> None:
    (authorizer,) = resources(_api(synth), "AWS::ApiGateway::Authorizer").values()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    (pool,) = authorizer["Properties"]["ProviderARNs"]
    assert "UserPool" in flatten(pool)


def test_each_request_model_is_the_handlers_pydantic_model_in_draft4(synth: Synth) -> None:
    from infra.api_models import REQUEST_MODELS, draft4

    models = resources(_api(synth), "AWS::ApiGateway::Model")
    deployed = {m["Properties"]["Name"]: m["Properties"]["Schema"] for m in models.values()}
    assert deployed == {name: draft4(model) for name, model in REQUEST_MODELS.items()}
    assert deployed["PredictRequest"]["properties"]["top_k"]["maximum"] == 27


@pytest.mark.parametrize(
    ("stage", "rate", "burst", "quota"), [("dev", 20, 40, 20000), ("prod", 100, 200, 500000)]
)
def test_stage_throttling_usage_plan_tracing_and_access_logs(
    synth: Synth, stage: str, rate: int, burst: int, quota: int
) -> None:
    template = _api(synth, stage)
    (api_stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    props = api_stage["Properties"]
    assert props["StageName"] == stage
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (rate, burst)
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    log_format = json.loads(props["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "ip", "user"} <= set(log_format)
    assert props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0].startswith("ApiAccessLogs")
    (plan,) = resources(template, "AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"] == {"BurstLimit": burst, "RateLimit": rate}
    assert plan["Properties"]["Quota"] == {"Limit": quota, "Period": "DAY"}
    (plan_key,) = resources(template, "AWS::ApiGateway::UsagePlanKey").values()
    assert plan_key["Properties"]["KeyType"] == "API_KEY"
    (api,) = resources(template, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["Name"] == f"prodcat-{stage}-api"


@pytest.mark.parametrize(
    ("stage", "origin"),
    [("dev", "http://localhost:3000"), ("prod", "https://www.example-marketplace.fr")],
)
def test_cors_allows_only_the_sites_and_the_configured_origin(
    synth: Synth, stage: str, origin: str
) -> None:
    """The web page's CloudFront URL (site stack) and the stage's cors_allowed_origins."""
    template = _api(synth, stage)
    site = f"'https://<import:prodcat-{stage}-site:ExportsOutputFnGetAttSiteDistribution"
    options = [
        m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert options
    for method in options:
        (response,) = method["Integration"]["IntegrationResponses"]
        allowed = response["ResponseParameters"][
            "method.response.header.Access-Control-Allow-Origin"
        ]
        assert flatten(allowed).startswith(site)
        # The other origin is answered only to a request that comes from it.
        chooser = response["ResponseTemplates"]["application/json"]
        assert f'#if($origin == "{origin}")' in chooser
        assert chooser.count('#if($origin == "http') == 1
    for response in resources(template, "AWS::ApiGateway::GatewayResponse").values():
        headers = response["Properties"]["ResponseParameters"]
        allowed = headers["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert flatten(allowed).startswith(site)


def test_validation_errors_are_returned_field_by_field(synth: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(_api(synth), "AWS::ApiGateway::GatewayResponse").values()
    }
    bad_body = responses["BAD_REQUEST_BODY"]
    assert (
        "$context.error.validationErrorString" in bad_body["ResponseTemplates"]["application/json"]
    )
    assert responses["THROTTLED"]["StatusCode"] == "429"
    assert responses["THROTTLED"]["ResponseParameters"]["gatewayresponse.header.Retry-After"]


def test_lambdas_use_powertools_layer_xray_and_bounded_concurrency(synth: Synth) -> None:
    functions = resources(_api(synth, "prod"), "AWS::Lambda::Function")
    assert len(functions) == 5
    for logical_id, function in functions.items():
        props = function["Properties"]
        assert props["Handler"] == "lambdas.api.app.handler", logical_id
        assert props["Runtime"] == "python3.13"
        (layer,) = props["Layers"]  # the ARN the Powertools team publishes for the version
        parameter = _api(synth, "prod")["Parameters"][layer["Ref"]]
        assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert parameter["Default"] == POWERTOOLS_LAYER_PARAMETER
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["ReservedConcurrentExecutions"] == 50
        assert props["Timeout"] <= 29
        env = props["Environment"]["Variables"]
        assert env["ENDPOINT_NAME"] == "prodcat-prod-predict"
        assert {
            "REQUEST_LOG_TABLE",
            "PRODUCTS_TABLE",
            "DATA_LAKE_BUCKET",
            "USER_POOL_ID",
            "UNDELIVERED_QUEUE_URL",
        } <= set(env)


def _function_grants(synth: Synth, name: str) -> dict[str, set[str]]:
    return grants(policy_statements(_api(synth), f"Api{name}Role"))


def test_only_predict_invokes_the_endpoint_and_only_its_own(synth: Synth) -> None:
    for name in ("Auth", "Logs", "Products", "Feedback"):
        assert "sagemaker:InvokeEndpoint" not in _function_grants(synth, name), name
    assert _function_grants(synth, "Predict")["sagemaker:InvokeEndpoint"] == {
        "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:endpoint/prodcat-dev-predict"
    }


def test_each_route_group_writes_only_its_own_data(synth: Synth) -> None:
    predict = _function_grants(synth, "Predict")
    assert lake_prefixes(predict["s3:PutObject"]) == {"capture/*"}
    assert "dynamodb:Query" not in predict  # writes its log, never reads others'
    assert any("RequestLogTable" in r for r in predict["dynamodb:PutItem"])
    logs = _function_grants(synth, "Logs")
    assert not [
        a for a in logs if a.startswith("s3:") or a in ("dynamodb:PutItem", "dynamodb:DeleteItem")
    ]
    assert any("RequestLogTable" in r for r in logs["dynamodb:Query"])
    products = _function_grants(synth, "Products")
    # "" is the bucket ARN of the same grant statement: object actions cannot apply to it.
    assert lake_prefixes(products["s3:DeleteObject*"]) - {""} == {"raw/products/*"}
    assert all("ProductCatalogueTable" in r for r in products["dynamodb:DeleteItem"])
    feedback = _function_grants(synth, "Feedback")
    assert lake_prefixes(feedback["s3:PutObject"]) == {"raw/feedback/*"}
    # Every grant of the auth role, exactly: an extra one fails (logical-ID hashes dropped).
    auth = {
        action: {re.sub(r"[0-9A-F]{8}(?=[.>])", "", r) for r in targets}
        for action, targets in _function_grants(synth, "Auth").items()
    }
    pool = {"<import:prodcat-dev-data:ExportsOutputFnGetAttUserPoolArn>"}
    undelivered = {"<ApiUndeliveredRecords.Arn>"}
    assert auth == {
        "cognito-idp:AdminAddUserToGroup": pool,
        "cognito-idp:AdminGetUser": pool,
        "logs:CreateLogStream": {"<ApiAuthLogs.Arn>"},
        "logs:PutLogEvents": {"<ApiAuthLogs.Arn>"},
        "xray:PutTelemetryRecords": {"*"},
        "xray:PutTraceSegments": {"*"},
        # Every API function queues what it could not record (lambdas/api/delivery.py).
        "sqs:GetQueueAttributes": undelivered,
        "sqs:GetQueueUrl": undelivered,
        "sqs:SendMessage": undelivered,
    }


def test_lambda_asset_holds_the_api_and_what_it_imports_but_not_the_model(synth: Synth) -> None:
    functions = resources(_api(synth), "AWS::Lambda::Function").values()
    hashes = {f["Properties"]["Code"]["S3Key"].removesuffix(".zip") for f in functions}
    assets = [synth.outdir / f"asset.{h}" for h in hashes]
    assert assets and all((a / "lambdas" / "api" / "app.py").exists() for a in assets)
    files = {str(p.relative_to(a)) for a in assets for p in a.rglob("*") if p.is_file()}
    # The shared contracts travel whole; the model, the container and the jobs stay out.
    contracts = {p.name for p in Path("prodcat_contracts").glob("*.py")}
    assert {f"prodcat_contracts/{name}" for name in contracts} <= files
    assert not any(f.startswith("local_runtime/") for f in files)  # the local stack stays home
    assert not any(f.startswith(("prodcat/", "inference/", "sagemaker_jobs/")) for f in files)
    assert "pyproject.toml" not in files
    assert not any("__pycache__" in f or f.startswith("tests/") for f in files)


def test_every_route_of_the_route_table_is_deployed(synth: Synth) -> None:
    from lambdas.api.routes import ROUTES

    def logical(resource: str) -> str:  # "/products/{id}" -> "productsid", as in logical IDs
        return "".join(c for c in resource if c.isalnum())

    assert {(r.method, logical(r.resource)) for r in ROUTES} == set(_methods(_api(synth)))


def test_feedback_reads_only_captures_to_copy_the_photo(synth: Synth) -> None:
    feedback = _function_grants(synth, "Feedback")
    assert lake_prefixes(feedback["s3:GetObject"]) == {"capture/*"}
    assert not [a for a in feedback if a.startswith("s3:Delete")]


def test_dev_reserves_no_lambda_concurrency_and_prod_leaves_lambda_its_minimum(
    synth: Synth,
) -> None:
    """A new account (quota 10) can deploy dev; prod's reservations fit a 1,000 quota."""

    def reserved(stage: str) -> int:
        return sum(
            function["Properties"].get("ReservedConcurrentExecutions", 0)
            for (name, _), template in synth.templates.items()
            if name == stage
            for function in resources(template, "AWS::Lambda::Function").values()
        )

    assert reserved("dev") == 0
    assert reserved("prod") == 5 * 50  # the five API functions; the pipeline's reserve nothing
    assert reserved("prod") <= 1000 - 100


def test_a_reservation_the_account_quota_cannot_hold_stops_synth(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aws_cdk import App
    from infra_helpers import REPO_ROOT, cdk_context

    from infra.app import build_app
    from infra.config import ConfigError

    context = cdk_context()
    context["prodcat:stages"]["prod"]["lambda_concurrency_quota"] = 300
    app = App(context={**context, "stage": "prod"}, outdir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"reserves 250 .* room for 200"):
        build_app(app, REPO_ROOT)


def test_the_api_states_the_user_pools_password_policy_and_what_to_send(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        pool = synth.template(stage, "data")["Resources"]["UserPool"]["Properties"]
        functions = [
            f["Properties"]
            for f in resources(_api(synth, stage), "AWS::Lambda::Function").values()
            if f["Properties"]["Handler"] == API_HANDLER
        ]
        assert len(functions) == 5
        for props in functions:
            stated = json.loads(props["Environment"]["Variables"]["PASSWORD_POLICY"])
            assert PasswordPolicy(**stated).cognito() == pool["Policies"]["PasswordPolicy"]
    answers = {
        props["ResponseType"]: props
        for props in (
            r["Properties"]
            for r in resources(_api(synth), "AWS::ApiGateway::GatewayResponse").values()
        )
    }
    for response_type, status, message in (
        ("UNAUTHORIZED", "401", NO_TOKEN_MESSAGE),
        ("INVALID_API_KEY", "403", NO_API_KEY_MESSAGE),
    ):
        props = answers[response_type]
        assert props["StatusCode"] == status
        assert json.loads(props["ResponseTemplates"]["application/json"]) == {"message": message}
