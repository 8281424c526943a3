"""Errors the API answers with: each carries its HTTP status and a message that says what to fix.

Plain functions raise these; `app.py` maps them to responses in one exception handler.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.details}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class Throttled(ApiError):
    status = 429

    def __init__(self, message: str, *, retry_after_seconds: int = 1, **details: Any):
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)}, **details)


class Unavailable(ApiError):
    """503: the caller should retry after `retry_after_seconds` (no model yet, cold endpoint)."""

    status = 503

    def __init__(self, message: str, *, retry_after_seconds: int = 30, **details: Any):
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)}, **details)


# An AWS dependency (table, bucket, queue, user pool) that failed or ran out of the request's time
# budget (clients.py): the caller retries after this many seconds.
DEPENDENCY_RETRY_AFTER = 5


class UpstreamFailed(ApiError):
    """502: a dependency failed in a way retrying will not fix; details are in the logs."""

    status = 502
