"""The post-deploy smoke test (lambdas/pipeline/smoke.py): what makes an answer wrong, and the
round trip through S3 and sagemaker-runtime with the Lambda handler."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.pipeline import gate, smoke
from lambdas.pipeline.smoke import EndpointError, SmokeCase, SmokeEvent, check_answer, run_smoke

CASE = SmokeCase(id="p1", listing={"designation": "Console Nintendo Switch"}, expected_top1=60)


def _answer(
    codes: list[int], probabilities: list[float] | None = None, version: str = "v2"
) -> bytes:
    probabilities = probabilities or [0.5 / (i + 1) for i in range(len(codes))]
    return json.dumps(
        {
            "predictions": [
                {"code": c, "name": "n", "name_fr": "n", "probability": p}
                for c, p in zip(codes, probabilities, strict=True)
            ],
            "model_version": version,
            "modalities": ["text"],
        }
    ).encode()


def test_a_good_answer_passes() -> None:
    assert check_answer(CASE, _answer([60, 50, 40]), "v2", 3) is None
    # Within the top-k is enough: the top-1 may trade places with a near tie.
    assert check_answer(CASE, _answer([50, 60, 40]), "v2", 3) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (_answer([60, 50, 40], version="v1"), "model version 'v1', expected 'v2'"),
        (_answer([10, 50, 40]), "the evaluated top-1 60 is not in the endpoint's top-3"),
        (_answer([60, 50]), "2 product types returned, asked for 3"),
        (_answer([60, 50, 40], [0.1, 0.5, 0.2]), "not in decreasing order"),
        (_answer([60, 50, 40], [0.7, 0.6, 0.1]), "sum to 1.400000 > 1"),
        (b'{"error": "the listing is empty"}', "the answer is not a prediction"),
        (b"<html>502</html>", "the answer is not a prediction"),
    ],
)
def test_a_wrong_answer_says_what_is_wrong(body: bytes, problem: str) -> None:
    found = check_answer(CASE, body, "v2", 3)
    assert found is not None and problem in found


CASES = {
    "model_version": "v2",
    "top_k": 3,
    "cases": [
        {"id": "a", "listing": {"designation": "Console"}, "expected_top1": 60, "label": 60},
        {
            "id": "b",
            "listing": {"designation": "Roman", "photo": "aGk="},
            "expected_top1": 10,
            "label": 10,
        },
    ],
}
EVENT = SmokeEvent(
    endpoint_name="prodcat-dev-predict",
    cases_uri="s3://lake/models/reports/r/challenger/smoke_cases.json",
    expected_model_version="v2",
)


def _read(bucket: str, key: str) -> bytes:
    assert (bucket, key) == ("lake", "models/reports/r/challenger/smoke_cases.json")
    return json.dumps(CASES).encode()


def test_every_case_is_sent_as_is_with_the_cases_top_k() -> None:
    sent: list[dict[str, Any]] = []

    def invoke(endpoint: str, body: bytes) -> bytes:
        assert endpoint == "prodcat-dev-predict"
        sent.append(json.loads(body))
        return _answer([60, 10, 40])

    result = run_smoke(EVENT, _read, invoke)
    assert result.passed and result.checked == 2 and result.failures == []
    assert sent == [
        {"designation": "Console", "top_k": 3},
        {"designation": "Roman", "photo": "aGk=", "top_k": 3},
    ]


def test_endpoint_errors_and_a_stale_case_file_fail_the_smoke_test() -> None:
    def invoke(endpoint: str, body: bytes) -> bytes:
        if json.loads(body)["designation"] == "Roman":
            raise EndpointError("ModelError: Received server error (500)")
        return _answer([60, 10, 40])

    stale = SmokeEvent(**{**EVENT.model_dump(), "expected_model_version": "v3"})
    result = run_smoke(stale, _read, invoke)
    assert not result.passed
    problems = {f.case: f.problem for f in result.failures}
    assert "promoted 'v3'" in problems["*"]
    assert problems["b"].startswith("endpoint error: ModelError")
    assert "model version 'v2', expected 'v3'" in problems["a"]


class _Runtime:
    """sagemaker-runtime as boto3 answers: a body stream, or a ClientError for a 5xx."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        assert request["ContentType"] == request["Accept"] == "application/json"
        if self.fail:
            raise ClientError(
                {"Error": {"Code": "ModelError", "Message": "Received server error (500)"}},
                "InvokeEndpoint",
            )
        return {"Body": io.BytesIO(_answer([60, 10, 40]))}


@pytest.mark.parametrize("fail", [False, True])
def test_handler_reads_the_cases_from_s3_and_calls_sagemaker_runtime(
    monkeypatch: pytest.MonkeyPatch, aws_env: None, fail: bool
) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.setattr(smoke, "_runtime_client", lambda: _Runtime(fail))

    class Context:
        function_name = "smoke"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:smoke"
        aws_request_id = "req-1"

    with moto.mock_aws():
        gate._s3_client.cache_clear()
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )
        s3.put_object(
            Bucket="lake",
            Key="models/reports/r/challenger/smoke_cases.json",
            Body=json.dumps(CASES),
        )
        result = smoke.handler(EVENT.model_dump(), Context())  # type: ignore[arg-type]
        gate._s3_client.cache_clear()
    assert result["passed"] is not fail and result["checked"] == 2
    if fail:
        assert [f["case"] for f in result["failures"]] == ["a", "b"]
        assert "ModelError" in result["failures"][0]["problem"]
