"""The promotion gate Lambda (lambdas/pipeline/gate.py): the rule and the S3 round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.pipeline.gate import GateEvent, decide, handler, run_gate
from prodcat_contracts.gate import EvaluationReport, GatePolicy
from prodcat_contracts.lake import split_s3_uri

POLICY = GatePolicy(
    mode="text_image", metric="weighted_f1", margin=0.01, min_accuracy=0.5, max_ece=0.1
)


def _report(
    weighted_f1: float,
    *,
    accuracy: float = 0.8,
    ece: float = 0.05,
    n: int = 1000,
    version: str = "v",
) -> dict[str, Any]:
    block = {
        "n": n,
        "accuracy": accuracy,
        "top3_accuracy": 0.9,
        "macro_f1": 0.7,
        "weighted_f1": weighted_f1,
        "ece": ece,
    }
    return {"text_only": block, "image_only": block, "text_image": block, "model_version": version}


def _decide(challenger: dict[str, Any], champion: dict[str, Any] | None):  # type: ignore[no-untyped-def]
    return decide(
        EvaluationReport.model_validate(challenger),
        None if champion is None else EvaluationReport.model_validate(champion),
        POLICY,
    )


def test_first_model_is_promoted_when_it_clears_the_floors() -> None:
    decision = _decide(_report(0.7), None)
    assert decision.promote and decision.champion_score is None


def test_challenger_must_beat_champion_by_the_margin() -> None:
    assert _decide(_report(0.715), _report(0.70)).promote
    tie = _decide(_report(0.705), _report(0.70))
    assert not tie.promote
    assert "does not beat the champion's 0.7000 by the margin 0.0100" in tie.reasons[0]


@pytest.mark.parametrize(
    ("report", "reason"),
    [(_report(0.9, accuracy=0.4), "below the floor"), (_report(0.9, ece=0.2), "above the ceiling")],
)
def test_floors_reject_even_a_better_model(report: dict[str, Any], reason: str) -> None:
    decision = _decide(report, _report(0.5))
    assert not decision.promote
    assert any(reason in r for r in decision.reasons)


def test_different_test_sets_are_not_compared() -> None:
    decision = _decide(_report(0.9, n=1000), _report(0.5, n=900))
    assert not decision.promote
    assert any("different test sets" in r for r in decision.reasons)


def test_a_challenger_evaluated_on_no_rows_of_the_mode_is_refused() -> None:
    # Scores of an empty set say nothing, however good they look, even with no champion.
    decision = _decide(_report(0.99, accuracy=0.99, ece=0.0, n=0), None)
    assert not decision.promote
    assert decision.reasons == ["challenger was evaluated on no text_image rows"]
    assert not _decide(_report(0.99, accuracy=0.99, ece=0.0, n=0), _report(0.5, n=0)).promote


def test_a_mode_written_without_scores_is_refused_not_a_crash() -> None:
    # prodcat.metrics writes {"n": 0} for a mode with no test rows.
    empty = {**_report(0.9), "text_image": {"n": 0}}
    decision = _decide(empty, None)
    assert not decision.promote and decision.challenger_score is None
    assert decision.reasons == ["challenger was evaluated on no text_image rows"]
    assert not _decide(empty, _report(0.5)).promote
    # Rows but no scores: a broken report, refused by name.
    broken = {**_report(0.9), "text_image": {"n": 1000, "accuracy": 0.9}}
    decision = _decide(broken, None)
    assert not decision.promote
    assert decision.reasons == ["challenger's text_image metrics lack ece, weighted_f1"]
    # Another mode being empty does not matter to a gate on this one.
    photo_less = {**_report(0.8), "image_only": {"n": 0}}
    assert _decide(photo_less, _report(0.7)).promote
    # A champion without scores for the mode is never beaten by default.
    assert not _decide(_report(0.8), {**_report(0.7), "text_image": {"n": 1000}}).promote


def test_split_s3_uri() -> None:
    assert split_s3_uri("s3://lake/models/reports/r/metrics.json") == (
        "lake",
        "models/reports/r/metrics.json",
    )
    with pytest.raises(ValueError):
        split_s3_uri("lake/metrics.json")


def test_run_gate_reads_both_reports_from_s3() -> None:
    store = {
        ("lake", "r/challenger/metrics.json"): _report(0.8, version="new"),
        ("lake", "r/champion/metrics.json"): _report(0.7, version="old"),
    }
    event = GateEvent(
        challenger_metrics_uri="s3://lake/r/challenger/metrics.json",
        champion_metrics_uri="s3://lake/r/champion/metrics.json",
        policy=POLICY,
    )
    decision = run_gate(event, read=lambda b, k: json.dumps(store[(b, k)]).encode())
    assert decision.promote
    assert (decision.challenger_version, decision.champion_version) == ("new", "old")


def test_handler_against_moto_s3(aws_env: None) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    from lambdas.pipeline import gate

    with moto.mock_aws():
        gate._s3_client.cache_clear()
        s3 = boto3.client("s3", region_name="eu-west-3")
        s3.create_bucket(
            Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )
        s3.put_object(Bucket="lake", Key="r/challenger/metrics.json", Body=json.dumps(_report(0.6)))
        event = {
            "challenger_metrics_uri": "s3://lake/r/challenger/metrics.json",
            "champion_metrics_uri": None,
            "policy": POLICY.model_dump(),
        }

        class Context:
            function_name = "gate"
            memory_limit_in_mb = 256
            invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:gate"
            aws_request_id = "req-1"

        result = handler(event, Context())  # type: ignore[arg-type]
        gate._s3_client.cache_clear()
    assert result["promote"] is True
    assert result["challenger_score"] == 0.6
