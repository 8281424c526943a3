"""Every Lambda function of the synthesized templates runs on exactly what Lambda provides.

For each AWS::Lambda::Function: its handler is imported from its own asset folder in cdk.out,
in a fresh python3.13 (the template's Runtime) that holds only the runtime's SDK and the
Powertools layer the template resolves (lambda_sandbox.py), with the template's environment
and the variables Lambda sets, and invoked with a sample event against a local moto server.
The .venv tests run the same handlers with the .venv's Python, boto3 and Powertools; this is
where a handler that would crash in Lambda (a Powertools feature newer than the layer, a module
left out of the asset, a Python-version difference) fails before a deploy does.

Needs a python3.13 (PATH, pyenv, or $PRODCAT_LAMBDA_PYTHON) and the package registry the first
time (about 40 s); the environment is then kept under .work/lambda-runtime-<hash>.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, Synth
from lambda_sandbox import (
    REGION,
    LambdaFunction,
    Sandbox,
    build,
    find_python,
    is_cdk_provider,
    lambda_environment,
    lambda_functions,
    run,
    unmet_requirements,
)

from infra.constructs.powertools_function_construct import (
    POWERTOOLS_LAYER_PARAMETER,
    POWERTOOLS_VERSION,
)

EVENTS = REPO_ROOT / "tests" / "events"
REPORTS_BUCKET = "prodcat-sandbox-reports"  # the bucket tests/events/pipeline_*.json name
RUN_PREFIX = "models/reports/run-0001/"
MODEL_VERSION = "20261121T100000Z-test0001"
ANSWER = {  # a well-formed /invocations answer (prodcat_contracts/listing.py Prediction)
    "predictions": [
        {"code": code, "name": f"type {code}", "name_fr": f"type {code}", "probability": p}
        for code, p in [(2583, 0.7), (1302, 0.2), (1560, 0.05), (10, 0.03), (40, 0.02)]
    ],
    "model_version": MODEL_VERSION,
    "modalities": ["text"],
}


@pytest.fixture(scope="module")
def functions(synth: Synth) -> list[LambdaFunction]:
    found = lambda_functions(synth.outdir, synth.templates)
    assert found, "no Lambda function in the synthesized templates"
    return found


def _pyproject_pin(package: str) -> str:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    for extra in project["optional-dependencies"].values():
        for requirement in extra:
            name, _, version = requirement.partition("==")
            if name == package:
                return version
    raise AssertionError(f"pyproject.toml pins no {package}")


def test_one_powertools_version_for_lambda_the_venv_and_this_test(
    functions: list[LambdaFunction],
) -> None:
    """The layer every function gets, the .venv the handler tests run with, and the sandbox
    below are the same Powertools, named in one place (the construct's POWERTOOLS_VERSION)."""
    assert POWERTOOLS_LAYER_PARAMETER.endswith(f"/{POWERTOOLS_VERSION}")
    assert {f.name: f.powertools_version() for f in functions} == {
        f.name: POWERTOOLS_VERSION for f in functions
    }
    assert _pyproject_pin("aws-lambda-powertools") == POWERTOOLS_VERSION, (
        "pyproject.toml must pin the Powertools the layer holds (then run `make install`)"
    )
    assert metadata.version("aws-lambda-powertools") == POWERTOOLS_VERSION, "run `make install`"


def test_the_layer_arn_is_resolved_by_cloudformation_not_at_synth(synth: Synth) -> None:
    """One AWS::SSM::Parameter::Value parameter per stack with a Lambda, named after the
    Powertools version: CloudFormation reads the public parameter in the target region at deploy
    time, so synth needs no AWS access and nothing is cached in cdk.context.json."""
    for (stage, stack), template in synth.templates.items():
        has_function = any(
            r["Type"] == "AWS::Lambda::Function" and not is_cdk_provider(logical_id)
            for logical_id, r in template["Resources"].items()
        )
        parameters = [
            p
            for p in template.get("Parameters", {}).values()
            if p.get("Default") == POWERTOOLS_LAYER_PARAMETER
        ]
        assert len(parameters) == (1 if has_function else 0), (stage, stack)
        for parameter in parameters:
            assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert (
        not (REPO_ROOT / "cdk.context.json").exists()
        or "powertools" not in (REPO_ROOT / "cdk.context.json").read_text()
    )


@pytest.fixture(scope="module")
def sandboxes(functions: list[LambdaFunction]) -> dict[tuple[str, str], Sandbox]:
    """One built environment per (Python, Powertools) the functions use."""
    built = {}
    for python_version, powertools in sorted(
        {(f.python_version, f.powertools_version()) for f in functions}
    ):
        interpreter = find_python(python_version)
        if interpreter is None:
            message = (
                f"no python{python_version} to run the Lambda handlers on: install it (pyenv) "
                "or set PRODCAT_LAMBDA_PYTHON"
            )
            if os.environ.get("PRODCAT_REQUIRE_LAMBDA_RUNTIME"):
                pytest.fail(message)
            pytest.skip(message)
        built[(python_version, powertools)] = build(interpreter, python_version, powertools)
    return built


def test_the_layer_pins_hold_everything_powertools_needs(
    sandboxes: dict[tuple[str, str], Sandbox],
) -> None:
    """aws-lambda-powertools[all] at the pinned version, checked against the wheel's own
    Requires-Dist: a Powertools bump that adds a dependency fails here until the layer's pins
    file follows (the sandbox installs with --no-deps, so nothing is fetched behind its back)."""
    for (python_version, powertools), sandbox in sandboxes.items():
        assert unmet_requirements(sandbox, python_version) == [], powertools


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from local_runtime.moto_server import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def stage_resources(moto_server: str) -> dict[str, str]:
    """The stage's resources in the moto server (tables, bucket, queue, user pool), the objects
    the pipeline events name, and the endpoint's answers: the local values of what the templates
    leave to CloudFormation (Fn::ImportValue, Ref)."""
    import boto3

    from local_runtime.moto_server import environment
    from local_runtime.stack import create_resources

    aws = {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_SESSION_TOKEN": "sandbox",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with environment(aws):
        values = {
            **create_resources("sandbox"),
            # The web page's CloudFront URL comes first (a deploy-time value), then cdk.json's.
            "CORS_ALLOWED_ORIGINS": "https://d111111abcdef8.cloudfront.net,http://localhost:3000",
        }
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket=REPORTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        block = {"n": 200, "accuracy": 0.8, "top3_accuracy": 0.93, "macro_f1": 0.75}
        block |= {"weighted_f1": 0.79, "ece": 0.04}
        metrics = {"text_only": block, "image_only": block, "text_image": block}
        s3.put_object(
            Bucket=REPORTS_BUCKET,
            Key=f"{RUN_PREFIX}metrics.json",
            Body=json.dumps({**metrics, "model_version": MODEL_VERSION}).encode(),
        )
        cases = {
            "model_version": MODEL_VERSION,
            "top_k": 5,
            "cases": [{"id": "p1", "listing": {"designation": "Piscine"}, "expected_top1": 2583}],
        }
        s3.put_object(
            Bucket=REPORTS_BUCKET,
            Key=f"{RUN_PREFIX}smoke_cases.json",
            Body=json.dumps(cases).encode(),
        )
    # moto's sagemaker-runtime answers from this queue (then repeats an answer per request body).
    answers = [{"Body": json.dumps(ANSWER), "ContentType": "application/json"}] * 50
    request = urllib.request.Request(
        f"{moto_server}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"region": REGION, "results": answers}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201, answer.status
    return values


def _events(function: LambdaFunction) -> list[dict[str, Any]]:
    """What each handler is invoked with: API Gateway's proxy events for the API resolver
    (GET /health, then the sample POST /predict), the state machine's payloads for the rest."""
    if function.handler == "lambdas.api.app.handler":
        predict = json.loads((EVENTS / "rest_api_proxy.json").read_text())
        health = copy.deepcopy(predict)
        health.update(resource="/health", path="/health", httpMethod="GET", body=None)
        health["requestContext"].update(
            resourcePath="/health", httpMethod="GET", path=f"/{function.stage}/health"
        )
        return [health, predict]
    by_handler = {
        "lambdas.pipeline.gate.handler": "pipeline_gate.json",
        "lambdas.pipeline.smoke.handler": "pipeline_smoke.json",
    }
    assert function.handler in by_handler, (
        f"{function.name}: no sample event for {function.handler}; add one to tests/events/ "
        "and to this table"
    )
    return [json.loads((EVENTS / by_handler[function.handler]).read_text())]


def _problems(function: LambdaFunction, outcomes: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the outcomes of `_events(function)`, handler by handler."""
    failed = [o for o in outcomes if "error" in o]
    if failed:
        return [f"{o['phase']}: {o['error']}\n{o['traceback']}" for o in failed]
    results = [o["result"] for o in outcomes]
    if function.handler == "lambdas.api.app.handler":
        health, predict = results
        problems = []
        if health.get("statusCode") != 200 or json.loads(health["body"]) != {
            "status": "ok",
            "stage": function.environment["STAGE"],
        }:
            problems.append(f"GET /health answered {health}")
        body = json.loads(predict.get("body") or "null")
        if predict.get("statusCode") != 200 or not (
            isinstance(body, dict)
            and [p["code"] for p in body["predictions"]] == [2583, 1302, 1560, 10, 40]
            and body.get("model_version") == MODEL_VERSION
            and body.get("prediction_id")
        ):
            problems.append(f"POST /predict answered {predict}")
        return problems
    (result,) = results
    if function.handler == "lambdas.pipeline.gate.handler":
        expected = {"promote": True, "challenger_version": MODEL_VERSION}
        if {k: result.get(k) for k in expected} != expected:
            return [f"the gate decided {result}"]
    if function.handler == "lambdas.pipeline.smoke.handler" and not (
        result.get("passed") is True and result.get("checked") == 1
    ):
        return [f"the smoke test found {result}"]
    return []


def test_every_handler_imports_and_answers_on_what_lambda_provides(
    functions: list[LambdaFunction],
    sandboxes: dict[tuple[str, str], Sandbox],
    moto_server: str,
    stage_resources: dict[str, str],
) -> None:
    def check(function: LambdaFunction) -> list[str]:
        sandbox = sandboxes[(function.python_version, function.powertools_version())]
        environment = lambda_environment(function, stage_resources, moto_server)
        report = run(sandbox, function, _events(function), environment)
        assert report["python"].startswith(function.python_version), report["python"]
        problems = _problems(function, report["outcomes"])
        return [f"{function.name} ({function.handler}): {p}" for p in problems] + (
            [f"{function.name} stderr:\n{report['stderr'][-2000:]}"] if problems else []
        )

    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores on the dev machines
        problems = [p for found in pool.map(check, functions) for p in found]
    assert not problems, "\n\n".join(problems)
    handlers = {f.handler for f in functions}
    assert handlers >= {"lambdas.api.app.handler", "lambdas.pipeline.gate.handler"}, handlers


def test_a_handler_that_cannot_import_fails_the_check(
    functions: list[LambdaFunction],
    sandboxes: dict[tuple[str, str], Sandbox],
    tmp_path: Path,
) -> None:
    """The harness reports an import error as a failure (it cannot pass by not running)."""
    function = functions[0]
    task_root = tmp_path / "task"
    (task_root / "broken").mkdir(parents=True)
    (task_root / "broken" / "__init__.py").write_text("")
    (task_root / "broken" / "app.py").write_text(
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "app = APIGatewayRestResolver()\n"
        "@app.get('/x', no_such_keyword=1)\n"
        "def x():\n    return {}\n"
        "def handler(event, context):\n    return app.resolve(event, context)\n"
    )
    broken = LambdaFunction(
        **{
            **function.__dict__,
            "handler": "broken.app.handler",
            "asset_dir": task_root,
            "environment": {},
        }
    )
    sandbox = sandboxes[(function.python_version, function.powertools_version())]
    report = run(sandbox, broken, [{}], lambda_environment(broken, {}, "http://127.0.0.1:9"))
    (outcome,) = report["outcomes"]
    assert outcome["phase"] == "import"
    assert "TypeError" in outcome["error"] and "no_such_keyword" in outcome["error"]
