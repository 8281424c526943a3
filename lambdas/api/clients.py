"""boto3 clients, made once and lazily (never at import, so moto can start first), swappable.

Tests and the local stack call `use(...)` to put their own clients in place; handlers call
`client("dynamodb")` and never build one themselves.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_made: dict[str, Any] = {}
_overrides: dict[str, Any] = {}

# Retries with backoff on throttling and transient errors: an accepted record is retried before
# it is handed to the dead-letter queue.
_RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=3)


def client(service: str, config: Config | None = None) -> Any:
    if service in _overrides:
        return _overrides[service]
    if service not in _made:
        _made[service] = boto3.client(service, config=_RETRIES.merge(config or Config()))
    return _made[service]


def use(**clients: Any) -> None:
    """Use these clients (by service name, e.g. `sagemaker_runtime=...`) instead of boto3's."""
    for name, made in clients.items():
        _overrides[name.replace("_", "-")] = made


def reset() -> None:
    _made.clear()
    _overrides.clear()
