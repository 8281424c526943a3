"""Local SageMaker endpoints: the SageMaker runtime's InvokeEndpoint over HTTP, in front of local
inference servers (local_runtime/serving.py), one per endpoint name.

The API Lambda keeps its real boto3 `sagemaker-runtime` client; the local stack points it here
(AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME). Answers follow the service's wire format, so botocore
raises the same errors it would in AWS: `ModelError` (HTTP 424, with the container's status and
body) when the container refuses a listing, `ValidationError` when no such endpoint exists.
`deploy` swaps a new model in behind a name the way UpdateEndpoint does: the old server keeps
answering until the new one is up.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local_runtime.serving import running_server

ACCOUNT = "123456789012"


@dataclass
class _Served:
    url: str
    model_dir: Path
    stack: ExitStack


@dataclass
class LocalEndpoints:
    timeout_seconds: float = 60.0
    _served: dict[str, _Served] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deploy(self, name: str, model_dir: Path) -> str:
        """Serve `model_dir` as endpoint `name`; returns the inference server's URL."""
        stack = ExitStack()
        url = stack.enter_context(running_server(Path(model_dir)))
        with self._lock:
            old = self._served.get(name)
            self._served[name] = _Served(url=url, model_dir=Path(model_dir), stack=stack)
        if old is not None:
            old.stack.close()
        return url

    def delete(self, name: str) -> None:
        with self._lock:
            old = self._served.pop(name, None)
        if old is not None:
            old.stack.close()

    def model_dir(self, name: str) -> Path | None:
        served = self._served.get(name)
        return served.model_dir if served else None

    def close(self) -> None:
        for name in list(self._served):
            self.delete(name)

    def _invoke(self, name: str, body: bytes, content_type: str) -> Response:
        served = self._served.get(name)
        if served is None:
            return _error(
                400,
                "ValidationError",
                {"message": f"Endpoint {name} of account {ACCOUNT} not found."},
            )
        try:
            answer = httpx.post(
                f"{served.url}/invocations",
                content=body,
                headers={"Content-Type": content_type},
                timeout=self.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            return _error(
                424,
                "ModelError",
                {
                    "message": f"Received server error (0) from primary: {exc}",
                    "OriginalStatusCode": 500,
                    "OriginalMessage": str(exc),
                },
            )
        if answer.status_code != 200:
            return _error(
                424,
                "ModelError",
                {
                    "message": f"Received client error ({answer.status_code}) from primary with "
                    f"message {answer.text!r}.",
                    "OriginalStatusCode": answer.status_code,
                    "OriginalMessage": answer.text,
                    "LogStreamArn": f"arn:aws:logs:local:{ACCOUNT}:log-group:/aws/sagemaker/"
                    f"Endpoints/{name}",
                },
            )
        return Response(
            answer.content,
            status_code=200,
            headers={
                "Content-Type": answer.headers.get("content-type", "application/json"),
                "x-Amzn-Invoked-Production-Variant": "AllTraffic",
            },
        )

    async def _route(self, request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "application/json")
        return await run_in_threadpool(
            self._invoke, request.path_params["name"], body, content_type
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/endpoints/{name}/invocations", self._route, methods=["POST"])]
        )


def _error(status: int, code: str, body: dict[str, object]) -> Response:
    return JSONResponse(
        body,
        status_code=status,
        headers={"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"},
    )
