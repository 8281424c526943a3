"""EMF lines -> CloudWatch PutMetricData entries, as the local stack publishes them."""

from __future__ import annotations

import json

from local_runtime.metrics import emf_metric_data


def test_an_emf_line_becomes_one_entry_per_value_with_its_dimensions() -> None:
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "prodcat",
                        "Dimensions": [["Stage", "service"]],
                        "Metrics": [
                            {"Name": "PredictLatency", "Unit": "Milliseconds"},
                            {"Name": "LowConfidence", "Unit": "Count"},
                        ],
                    }
                ],
            },
            "Stage": "local",
            "service": "api",
            "PredictLatency": [12.5, 30.0],
            "LowConfidence": 1,
        }
    )
    parsed = emf_metric_data(line)
    assert parsed is not None
    namespace, data = parsed
    assert namespace == "prodcat"
    assert [(d["MetricName"], d["Value"], d["Unit"]) for d in data] == [
        ("PredictLatency", 12.5, "Milliseconds"),
        ("PredictLatency", 30.0, "Milliseconds"),
        ("LowConfidence", 1.0, "Count"),
    ]
    assert data[0]["Dimensions"] == [
        {"Name": "Stage", "Value": "local"},
        {"Name": "service", "Value": "api"},
    ]


def test_other_lines_are_not_metrics() -> None:
    assert emf_metric_data('{"level": "INFO", "message": "hi"}') is None
    assert emf_metric_data("plain text") is None
