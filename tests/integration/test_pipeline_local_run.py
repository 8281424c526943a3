"""`prodcat pipeline run --local` wiring: the deployed definition runs on the local stack, the
model it trains ends up served behind the API, and a second run on the same data is gated out."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import httpx

from local_runtime.pipeline import LocalPipeline, sample_base_data
from local_runtime.stack import LocalStack


def test_a_local_run_deploys_a_model_the_api_then_serves(tmp_path: Path) -> None:
    with LocalStack(deploy_model=False) as stack:
        r = stack.resources
        assert r is not None
        api = httpx.Client(base_url=r.api_url, headers={"x-api-key": r.api_key}, timeout=60)
        user = {"email": "runner@example.com", "password": "Runner-passw0rd-1"}
        api.post("/register", json=user).raise_for_status()
        api.post("/confirm", json={"email": user["email"], "code": "0"}).raise_for_status()
        token = {"Authorization": api.post("/login", json=user).json()["id_token"]}
        listing = {"designation": "Piscine hors sol tubulaire"}
        assert api.post("/predict", json=listing, headers=token).status_code == 503

        pipeline = LocalPipeline(stack, tmp_path)
        try:
            assert pipeline.seed(sample_base_data(tmp_path / "base")) > 0
            entered: list[str] = []
            first = pipeline.run(on_state=entered.append)
            assert first["status"] == "SUCCEEDED", first
            for state in ("Prepare", "Train", "Gate", "CreateEndpoint", "SmokeTest", "Deployed"):
                assert state in entered, (state, " ".join(entered))
            assert entered.index("SmokeTest") < entered.index("ApproveChallenger")
            assert pipeline.notifications() == ["prodcat prodcat-local: new model in service"]

            production = json.loads(
                boto3.client("s3")
                .get_object(Bucket=r.bucket, Key="models/production/metrics.json")["Body"]
                .read()
            )
            # The catalogue, reclassified by the model just deployed (the Batch Transform runs
            # in process on the serving code): one answer line per catalogue line, in order.
            assert entered.index("ApproveChallenger") < entered.index("ReclassifyCatalogue")
            s3 = boto3.client("s3")
            predictions = f"models/predictions/{production['model_version']}/"
            asked = s3.get_object(Bucket=r.bucket, Key=f"{predictions}input/part-00000.jsonl")
            answered = s3.get_object(
                Bucket=r.bucket, Key=f"{predictions}output/part-00000.jsonl.out"
            )
            lines = [json.loads(x) for x in asked["Body"].read().splitlines()]
            answers = [json.loads(x) for x in answered["Body"].read().splitlines()]
            assert [a["id"] for a in answers] == [x["id"] for x in lines] and lines
            assert {a["model_version"] for a in answers} == {production["model_version"]}
            assert any(a.get("modalities") == ["text", "photo"] for a in answers)
            assert not [a for a in answers if "error" in a]
            answer = api.post("/predict", json=listing, headers=token)
            assert answer.status_code == 200
            assert answer.json()["model_version"] == production["model_version"]

            # Same data again: the challenger cannot beat the champion by the margin.
            second: list[str] = []
            assert pipeline.run(on_state=second.append)["status"] == "SUCCEEDED"
            assert "EvaluateBoth" in second and "NotPromoted" in second
            assert "UpdateEndpoint" not in second
            served = api.post("/predict", json=listing, headers=token).json()["model_version"]
            assert served == production["model_version"]
        finally:
            pipeline.close()
