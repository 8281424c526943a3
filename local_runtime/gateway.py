"""A local API Gateway: HTTP on 127.0.0.1 in, REST API proxy events to the real handler out.

It does what the deployed gateway does in front of the Lambdas (prediction_api_construct.py):
routes from `lambdas.api.routes`, the API key, the Cognito user-pool authorizer (signature
against the pool's JWKS, issuer, audience, token use, expiry; claims passed on as strings),
stage throttling (token bucket, 429 + Retry-After), the 10 MB payload limit, and the proxy event
and response formats. Behind it the handler runs as Lambda runs it (instances.py): concurrently,
one process per instance, at most `concurrency` instances per function. What API Gateway
answers when the integration fails, this answers too (Lambda's "Handling Lambda errors with an
API Gateway API"): a throttled invocation (Lambda refused it: every instance busy) is a 500, a
handler that raised or a malformed result is a 502, both `{"message": "Internal server error"}`
(the stage's DEFAULT_5XX gateway response keeps the status), and no answer within 29 s is a 504.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from lambdas.api.identity import NO_API_KEY_MESSAGE, NO_TOKEN_MESSAGE
from lambdas.api.routes import ROUTES, Route
from local_runtime.instances import (
    DEFAULT_CONCURRENCY,
    FunctionError,
    Handler,
    LambdaContext,
    LambdaInstances,
    Throttled,
    TimedOut,
)
from local_runtime.site import LocalSite

__all__ = ["Authorizer", "LambdaContext", "LocalGateway", "TokenBucket", "UserPool", "match"]
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway REST API
MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024  # synchronous Lambda invoke
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserPool:
    """What the authorizer knows about the pool: where its keys are and whose tokens to take."""

    pool_id: str
    client_id: str
    region: str
    jwks_url: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"


class Authorizer:
    """The Cognito user-pool authorizer: a valid id token's claims, or None (-> 401)."""

    def __init__(self, pool: UserPool) -> None:
        self._pool = pool
        self._keys: KeySet | None = None

    def _key_set(self) -> KeySet:
        if self._keys is None:
            self._keys = KeySet.import_key_set(httpx.get(self._pool.jwks_url, timeout=5).json())
        return self._keys

    def claims(self, header: str | None) -> dict[str, str] | None:
        if not header:
            return None
        token = header.removeprefix("Bearer ").strip()
        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self._pool.issuer},
                aud={"essential": True, "value": self._pool.client_id},
                token_use={"essential": True, "value": "id"},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        return {name: _claim_string(value) for name, value in decoded.claims.items()}


def _claim_string(value: Any) -> str:
    """REST APIs hand claims to the Lambda as strings; lists as "[a b]"."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)


@dataclass
class TokenBucket:
    """Stage throttling: `rate` requests per second, bursts up to `burst`."""

    rate: float
    burst: int
    _tokens: float = field(init=False)
    _at: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def _pattern(resource: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", resource) + "$")


_MATCHERS = [(route, _pattern(route.resource)) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for a request, and its path parameters; None when no resource matches."""
    for route, pattern in _MATCHERS:
        found = pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict()
    return None


def proxy_event(
    request_method: str,
    path: str,
    route: Route,
    path_parameters: Mapping[str, str],
    headers: Mapping[str, str],
    query: list[tuple[str, str]],
    body: bytes,
    claims: Mapping[str, str] | None,
    stage: str,
    source_ip: str,
) -> dict[str, Any]:
    """The REST API Lambda proxy integration event (payload format 1.0)."""
    request_id = str(uuid.uuid4())
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request_method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.resource,
            "httpMethod": request_method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent")},
            "authorizer": {"claims": dict(claims)} if claims is not None else None,
            "accountId": "123456789012",
            "apiId": "local",
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def _gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


@dataclass
class LocalGateway:
    """An ASGI app (Starlette) that fronts `handler` the way API Gateway fronts the Lambdas.

    `handler` is "module:function" (run in Lambda-like instance processes, see instances.py) or a
    callable (run in threads: only for stubs that keep no per-request module state). Call
    `close()` to stop the instances."""

    handler: str | Handler
    authorizer: Authorizer
    api_key: str
    stage: str = "local"
    throttle: TokenBucket = field(default_factory=lambda: TokenBucket(rate=20, burst=40))
    openapi: Callable[[], dict[str, Any]] | None = None
    # Receives what the handler printed (its EMF metrics); None leaves stdout alone.
    printed: Callable[[str], None] | None = None
    # Instances per function (reserved concurrency), and how long a request may wait for one
    # when all are busy before it is throttled (Lambda: 0).
    concurrency: int = DEFAULT_CONCURRENCY
    wait_seconds: float = 0.0
    # The web page on the same origin (local_runtime/site.py); None serves the API alone.
    site: LocalSite | None = None
    instances: LambdaInstances = field(init=False)
    _printed_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.instances = LambdaInstances(
            self.handler, concurrency=self.concurrency, wait_seconds=self.wait_seconds
        )
        # Threads that wait on the instances: every function's worth, and more than anyio's
        # default 40, which would otherwise queue requests before they reach the instances.
        self._threads = anyio.CapacityLimiter(max(64, 8 * self.concurrency))

    def close(self) -> None:
        self.instances.close()

    def app(self) -> Starlette:
        methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
        routes = [StarletteRoute("/{path:path}", self._serve, methods=methods)]
        if self.openapi is not None:
            routes[:0] = [
                StarletteRoute("/openapi.json", self._openapi, methods=["GET"]),
                StarletteRoute("/swagger", self._swagger, methods=["GET"]),
            ]
        if self.site is not None:
            routes[:0] = self.site.routes()
        return Starlette(routes=routes)

    async def _openapi(self, request: Request) -> Response:
        assert self.openapi is not None
        return JSONResponse(self.openapi())

    async def _swagger(self, request: Request) -> Response:
        """Swagger UI with the assets Powertools ships (no CDN: it works offline)."""
        from aws_lambda_powertools.event_handler.openapi import swagger_ui
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import (
            generate_swagger_html,
        )

        assets = Path(swagger_ui.__file__).parent
        page = generate_swagger_html(
            json.dumps(self.openapi() if self.openapi else {}),
            (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
            (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
            "",
            None,
            True,
        )
        return HTMLResponse(page)

    async def _serve(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_PAYLOAD_BYTES:
            return _gateway_error(413, "Request Too Long")
        found = match(request.method, request.url.path)
        if found is None:
            # API Gateway answers an unknown resource or method with 403 "Missing Authentication
            # Token", which confuses everyone; the local one says what it means.
            return _gateway_error(404, f"no route {request.method} {request.url.path}")
        route, path_parameters = found
        if request.headers.get("x-api-key") != self.api_key:
            return _gateway_error(403, NO_API_KEY_MESSAGE)
        if not self.throttle.take():
            return _gateway_error(429, "Too Many Requests", {"Retry-After": "1"})
        claims = None
        if not route.public:
            claims = self.authorizer.claims(request.headers.get("authorization"))
            if claims is None:
                return _gateway_error(401, NO_TOKEN_MESSAGE)
        if len(body) > MAX_LAMBDA_PAYLOAD_BYTES:
            return _gateway_error(413, "Request Too Long")
        event = proxy_event(
            request.method,
            request.url.path,
            route,
            path_parameters,
            {k.lower(): v for k, v in request.headers.items()},
            list(request.query_params.multi_items()),
            body,
            claims,
            self.stage,
            request.client.host if request.client else "127.0.0.1",
        )
        context = LambdaContext(
            function_name=f"prodcat-local-{route.function.lower()}",
            aws_request_id=event["requestContext"]["requestId"],
        )
        return await anyio.to_thread.run_sync(
            self._invoke, route.function, event, context, limiter=self._threads
        )

    def _invoke(self, function: str, event: dict[str, Any], context: LambdaContext) -> Response:
        try:
            invocation = self.instances.invoke(function, event, context)
        except Throttled as throttled:
            # What API Gateway's execution log says; the caller sees a plain 500.
            log.warning("Lambda invocation failed with status: 429 (%s: %s)", function, throttled)
            return _gateway_error(500, "Internal server error")
        except FunctionError:
            return _gateway_error(502, "Internal server error")
        except TimedOut:
            return _gateway_error(504, "Endpoint request timed out")
        if self.printed is not None and invocation.printed:
            with self._printed_lock:  # boto3's default session makes clients one at a time
                self.printed(invocation.printed)
        elif invocation.printed:
            print(invocation.printed, end="")
        try:
            return _to_response(invocation.result)
        except (TypeError, ValueError, AttributeError):
            return _gateway_error(502, "Internal server error")  # not a proxy response


def _to_response(result: dict[str, Any]) -> Response:
    headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return Response(raw, status_code=int(result.get("statusCode", 502)), headers=headers)
