"""Alarms: the metric, the threshold from config, and the on-call topic as action."""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import Synth, flatten, resources


def _alarms(synth: Synth, stage: str) -> dict[str, dict[str, Any]]:
    out = {}
    for logical_id, alarm in resources(
        synth.template(stage, "monitoring"), "AWS::CloudWatch::Alarm"
    ).items():
        out[logical_id.removeprefix("Monitoring")[:-8]] = alarm["Properties"]
    return out


def _dims(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: flatten(d["Value"]) for d in alarm.get("Dimensions", [])}


@pytest.mark.parametrize(
    ("name", "namespace", "metric", "statistic", "threshold"),
    [
        ("ApiLatencyP99", "AWS/ApiGateway", "Latency", "p99", 3000),
        ("Api4xxRate", "AWS/ApiGateway", "4XXError", "Average", 0.1),
        ("Api5xxRate", "AWS/ApiGateway", "5XXError", "Average", 0.01),
        ("EndpointLatencyP99", "AWS/SageMaker", "ModelLatency", "p99", 2_000_000),
        ("EndpointColdStartP99", "AWS/SageMaker", "ModelSetupTime", "p99", 20_000_000),
        ("Endpoint5xx", "AWS/SageMaker", "Invocation5XXErrors", "Sum", 0),
        # DriftScore is scheduled, not streamed: tests/infra/test_drift_check.py.
        ("PredictLambdaErrors", "AWS/Lambda", "Errors", "Sum", 0),
        ("PredictLambdaThrottles", "AWS/Lambda", "Throttles", "Sum", 0),
        ("GateLambdaErrors", "AWS/Lambda", "Errors", "Sum", 0),
    ],
)
def test_alarm_metric_and_threshold_from_config(
    synth: Synth, name: str, namespace: str, metric: str, statistic: str, threshold: float
) -> None:
    alarm = _alarms(synth, "prod")[name]
    assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric)
    assert alarm.get("ExtendedStatistic", alarm.get("Statistic")) == statistic
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] == 3 and alarm["Period"] == 300
    assert alarm["TreatMissingData"] == "notBreaching"


def test_alarms_are_keyed_to_this_stages_resources(synth: Synth) -> None:
    alarms = _alarms(synth, "dev")
    assert _dims(alarms["EndpointLatencyP99"]) == {
        "EndpointName": "prodcat-dev-predict",
        "VariantName": "AllTraffic",
    }
    assert _dims(alarms["DriftScore"]) == {"Stage": "dev", "Feature": "overall"}
    assert _dims(alarms["ApiLatencyP99"])["ApiName"] == "prodcat-dev-api"
    assert "PredictFunction" in _dims(alarms["PredictLambdaErrors"])["FunctionName"]


def test_every_alarm_notifies_on_call_both_ways(synth: Synth) -> None:
    alarms = _alarms(synth, "dev")
    expected = {
        "ApiLatencyP99",
        "Api4xxRate",
        "Api5xxRate",
        "EndpointLatencyP99",
        "EndpointColdStartP99",
        "Endpoint5xx",
        "DriftScore",
        "PipelineFailed",
        "ApiUndeliveredRecordsNotEmpty",
        "PipelineTriggerDeadLettersNotEmpty",
        "LowConfidenceRate",
        "DriftCheckFailed",
        "DriftCheckTriggerDeadLettersNotEmpty",
    }
    for function in ("Auth", "Predict", "Logs", "Products", "Feedback", "Gate", "Smoke"):
        expected |= {f"{function}LambdaErrors", f"{function}LambdaThrottles"}
    assert set(alarms) == expected
    for name, alarm in alarms.items():
        for actions in (alarm["AlarmActions"], alarm["OKActions"]):
            (action,) = actions
            assert "OnCallTopic" in flatten(action), name


def test_pipeline_failure_alarm_sums_failed_timed_out_and_aborted(synth: Synth) -> None:
    alarm = _alarms(synth, "dev")["PipelineFailed"]
    assert alarm["EvaluationPeriods"] == 1 and alarm["Threshold"] == 0
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "failed + timedout + aborted"
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for metric in alarm["Metrics"]:
        if "MetricStat" in metric:
            (dimension,) = metric["MetricStat"]["Metric"]["Dimensions"]
            assert dimension["Name"] == "StateMachineArn"
            assert "PipelineStateMachine" in flatten(dimension["Value"])


def test_dashboard_shows_the_alarms_and_each_area(synth: Synth) -> None:
    (dashboard,) = resources(
        synth.template("dev", "monitoring"), "AWS::CloudWatch::Dashboard"
    ).values()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for title in (
        "Alarms",
        "API p99 latency",
        "Endpoint p99 cold start",
        "Lambda errors",
        "Drift score",
        "Pipeline runs",
    ):
        assert title in body


def test_on_call_topic_is_encrypted_tls_only_with_email(synth: Synth) -> None:
    template = synth.template("prod", "oncall")
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    assert "TopicKey" in flatten(topic["Properties"]["KmsMasterKeyId"])
    (key,) = resources(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in key_statements
    )
    (subscription,) = resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_single_waiting_message_raises_the_queue_alarms(synth: Synth, stage: str) -> None:
    # An undelivered record or a dead letter is data about to be lost: one is an incident.
    queues = {
        "ApiUndeliveredRecordsNotEmpty": "ApiUndeliveredRecords",
        "PipelineTriggerDeadLettersNotEmpty": "PipelineTriggerDeadLetters",
        "DriftCheckTriggerDeadLettersNotEmpty": "DriftCheckTriggerDeadLetters",
    }
    alarms = _alarms(synth, stage)
    assert {n for n in alarms if n.endswith("NotEmpty")} == set(queues)
    for name, queue in queues.items():
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
        ), name
        assert alarm["Threshold"] == 0, name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", name
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1), name
        assert alarm["Period"] == 300, name
        assert queue in _dims(alarm)["QueueName"], (name, _dims(alarm))
