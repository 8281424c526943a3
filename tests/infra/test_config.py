"""cdk.json context -> StageConfig: a wrong or missing setting names itself (no jsii here)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from infra_helpers import cdk_context

from infra.config import CONTEXT_KEY, ConfigError, StageConfig, load_stage_configs


def _context() -> dict[str, Any]:
    return copy.deepcopy(cdk_context())


def _dev_with(path: str, value: Any) -> dict[str, Any]:
    context = _context()
    node = context[CONTEXT_KEY]["dev"]
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return context


_DELETE = object()


def test_repo_cdk_json_yields_frozen_configs_for_dev_and_prod() -> None:
    configs = load_stage_configs(_context(), None)
    assert [c.stage for c in configs] == ["dev", "prod"]
    dev = configs[0]
    assert isinstance(dev, StageConfig)
    assert dev.endpoint_name == "prodcat-dev-predict"
    with pytest.raises(ValueError):
        dev.stage = "other"  # type: ignore[misc]


def test_stage_selector_keeps_one_stage() -> None:
    assert [c.stage for c in load_stage_configs(_context(), "prod")] == ["prod"]


def test_unknown_stage_selector_names_the_known_stages() -> None:
    with pytest.raises(ConfigError, match=r"stage='qa'.*known: dev, prod"):
        load_stage_configs(_context(), "qa")


def test_missing_context_key_is_named() -> None:
    with pytest.raises(ConfigError, match="prodcat:stages"):
        load_stage_configs({}, None)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (
            "ml.serverless.memory_size_mb",
            1000,
            r"prodcat:stages\.dev\.ml\.serverless\.memory_size_mb",
        ),
        ("ml.serverless.max_concurrency", 201, r"dev\.ml\.serverless\.max_concurrency"),
        ("ml.serverless.max_concurrency", 0, r"dev\.ml\.serverless\.max_concurrency"),
        ("ml.serverless.provisioned_concurrency", 9, r"dev\.ml\.serverless: .*provisioned"),
        ("ml.training.instance_type", "m5.xlarge", r"dev\.ml\.training\.instance_type"),
        ("api.cors_allowed_origins", ["*"], r"dev\.api\.cors_allowed_origins"),
        ("api.cors_allowed_origins", [], r"dev\.api\.cors_allowed_origins"),
        ("api.lambda_timeout_seconds", 30, r"dev\.api\.lambda_timeout_seconds"),
        ("api.log_retention_days", 10, r"dev\.api\.log_retention_days"),
        ("pipeline.schedule", "every monday", r"dev\.pipeline\.schedule"),
        ("pipeline.gate.metric", "f1", r"dev\.pipeline\.gate\.metric"),
        ("monitoring.oncall_email", "oncall", r"dev\.monitoring\.oncall_email"),
        ("monitoring.api_5xx_rate", 2, r"dev\.monitoring\.api_5xx_rate"),
        ("data.raw_glacier_after_days", 30, r"dev\.data"),
        ("users.mfa", "sms", r"dev\.users\.mfa"),
        ("account", "12345", r"dev\.account"),
        ("surprise", True, r"dev\.surprise"),
        ("monitoring.drift_score_threshold", _DELETE, r"dev\.monitoring\.drift_score_threshold"),
        ("termination_protection", _DELETE, r"dev\.termination_protection"),
    ],
)
def test_a_wrong_or_missing_setting_fails_naming_it(path: str, value: Any, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_stage_configs(_dev_with(path, value), None)


def test_every_problem_is_reported_at_once() -> None:
    context = _dev_with("ml.serverless.memory_size_mb", 1000)
    context[CONTEXT_KEY]["prod"]["api"]["throttle_burst_limit"] = 0
    with pytest.raises(ConfigError) as caught:
        load_stage_configs(context, None)
    assert "dev.ml.serverless.memory_size_mb" in str(caught.value)
    assert "prod.api.throttle_burst_limit" in str(caught.value)


def test_provisioned_concurrency_is_optional() -> None:
    context = _dev_with("ml.serverless.provisioned_concurrency", 2)
    (dev,) = load_stage_configs(context, "dev")
    assert dev.ml.serverless.provisioned_concurrency == 2


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("monitoring.drift_check_schedule", "every day"),
        ("monitoring.drift_min_samples", 10),
        ("monitoring.low_confidence_rate", 1.5),
    ],
)
def test_drift_check_settings_are_validated_and_named(path: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=path.split(".")[-1]):
        load_stage_configs(_dev_with(path, value), "dev")


def test_drift_check_settings_have_defaults_when_left_out() -> None:
    context = _context()
    for key in ("drift_check_schedule", "drift_lookback_hours", "drift_min_samples"):
        del context[CONTEXT_KEY]["dev"]["monitoring"][key]
    (dev,) = load_stage_configs(context, "dev")
    assert (dev.monitoring.drift_lookback_hours, dev.monitoring.drift_min_samples) == (24, 500)
