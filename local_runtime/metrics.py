"""Embedded-metric-format lines, as Lambda's log pipeline reads them, into CloudWatch (moto).

In AWS, CloudWatch turns the EMF JSON lines a function prints into metrics. Locally the gateway
collects what the handler prints and gives it to `publish_emf`, so the same metrics land in the
local CloudWatch, where alarms and dashboards would read them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3


def emf_metric_data(line: str) -> tuple[str, list[dict[str, Any]]] | None:
    """(namespace, PutMetricData entries) for one EMF line; None for any other line."""
    try:
        record = json.loads(line)
        directives = record["_aws"]["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return None
    namespace, data = "", []
    for directive in directives:
        namespace = directive["Namespace"]
        for dimension_set in directive["Dimensions"] or [[]]:
            dimensions = [{"Name": d, "Value": str(record[d])} for d in dimension_set]
            for metric in directive["Metrics"]:
                values = record[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    data.append(
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": dimensions,
                            "Value": float(value),
                            "Unit": metric.get("Unit", "None"),
                        }
                    )
    return namespace, data


def publish_emf(printed: str) -> None:
    """Publish the EMF lines in `printed`; pass every other line through to stdout."""
    cloudwatch = boto3.client("cloudwatch")
    for line in printed.splitlines():
        parsed = emf_metric_data(line) if line.startswith('{"_aws"') else None
        if parsed is None:
            print(line, file=sys.stdout)
            continue
        namespace, data = parsed
        for start in range(0, len(data), 500):  # PutMetricData's limit per call
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])
