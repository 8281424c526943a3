"""Handler tests: the real resolver and boto3 against moto (in-process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_harness import Api, Runtime
from moto import mock_aws

from lambdas.api import clients
from lambdas.api.settings import settings
from local_runtime.stack import create_resources


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Iterator[Api]:
    for name, value in {
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "prodcat",
        "POWERTOOLS_SERVICE_NAME": "prodcat-api-test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        env = create_resources("test")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # As in Lambda: metrics are flushed (to stdout, as EMF) after every invocation.
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
        clients.reset()
        settings.cache_clear()
        runtime = Runtime()
        clients.use(sagemaker_runtime=runtime)
        try:
            yield Api(env=env, runtime=runtime)
        finally:
            clients.reset()
            settings.cache_clear()
