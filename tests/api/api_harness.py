"""What the handler tests share: a sample API Gateway event (tests/events/) turned into calls of
the real handler, and a SageMaker runtime double that answers like the service does.

(A module of its own, not conftest.py: tests/infra has a conftest too, and `from conftest import`
would pick whichever was imported first.)"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

EVENTS = Path(__file__).parent.parent / "events"


@dataclass
class Runtime:
    """sagemaker-runtime's invoke_endpoint: records calls, answers what the test set up."""

    answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        listing = json.loads(kwargs["Body"])
        body = (self.answer or prediction_for)(listing)
        return {"Body": io.BytesIO(json.dumps(body).encode()), "ContentType": "application/json"}


def prediction_for(listing: dict[str, Any]) -> dict[str, Any]:
    """A well-formed answer of the serving contract (prodcat_contracts/listing.py Prediction)."""
    used = [m for m, key in (("text", "designation"), ("photo", "photo")) if listing.get(key)]
    top = [(2583, 0.7), (1302, 0.2), (1560, 0.05), (10, 0.03), (40, 0.02)]
    return {
        "predictions": [
            {"code": c, "name": f"type {c}", "name_fr": f"type {c}", "probability": p}
            for c, p in top[: listing.get("top_k", 5)]
        ],
        "model_version": "20261121T100000Z-test0001",
        "modalities": used or ["text"],
    }


def client_error(code: str, message: str = "", status: int = 400, **extra: Any) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
            **extra,
        },
        "InvokeEndpoint",
    )


@dataclass
class Api:
    env: dict[str, str]
    runtime: Runtime

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str | None = "seller-1",
        groups: str = "[sellers]",
        query: dict[str, str] | None = None,
        resource: str | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """Invoke the Lambda handler with a proxy event built from the sample one."""
        from lambdas.api.app import handler
        from local_runtime.gateway import LambdaContext

        event = copy.deepcopy(json.loads((EVENTS / "rest_api_proxy.json").read_text()))
        event.update(httpMethod=method, path=path, resource=resource or path)
        event["requestContext"].update(
            httpMethod=method, resourcePath=resource or path, requestId=str(uuid.uuid4())
        )
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = (
            {k: [v] for k, v in query.items()} if query else None
        )
        if user is None:
            event["requestContext"]["authorizer"] = None
        else:
            claims = event["requestContext"]["authorizer"]["claims"]
            claims.update({"sub": user, "email": f"{user}@example.com", "cognito:groups": groups})
        event["body"] = (
            None if body is None else (body if isinstance(body, str) else json.dumps(body))
        )
        context = LambdaContext(function_name="test", aws_request_id=str(uuid.uuid4()))
        answer = handler(event, context)
        payload = answer.get("body")
        parsed = json.loads(payload) if payload else None
        headers = dict(answer.get("headers") or {})
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        return int(answer["statusCode"]), headers, parsed

    def admin(self, method: str, path: str, body: Any = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.call(method, path, body, user="admin-1", groups="[admins]", **kwargs)


def s3_json(bucket: str, key: str) -> Any:
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def s3_keys(bucket: str, prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))
