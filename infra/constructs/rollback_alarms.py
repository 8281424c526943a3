"""The endpoint alarms the pipeline's UpdateEndpoint names for auto-rollback: created by the
monitoring construct, named by the pipeline construct. Fixed names, known to both from the
stage alone: the pipeline stack cannot reference the monitoring stack's alarms (that stack
depends on it)."""

from __future__ import annotations

# alarm key in MonitoringConstruct.alarms -> the suffix of its fixed name
ROLLBACK_ALARMS = {"Endpoint5xx": "endpoint-5xx", "EndpointLatencyP99": "endpoint-latency-p99"}


def rollback_alarm_name(stage: str, alarm: str) -> str:
    return f"prodcat-{stage}-{ROLLBACK_ALARMS[alarm]}"


def rollback_alarm_names(stage: str) -> tuple[str, ...]:
    return tuple(rollback_alarm_name(stage, alarm) for alarm in ROLLBACK_ALARMS)
