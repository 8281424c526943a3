"""Writing records the API has accepted, so that none is lost.

boto3 already retries throttling and transient errors with backoff (clients.py). When a write
still fails, the record goes to the undelivered-records queue (an alarm pages on-call while it
holds anything) and can be replayed from there; only if that fails too is it logged in full.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.api.clients import client

logger = Logger(child=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def put_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    # The bucket encrypts by default and refuses plain HTTP (data lake construct).
    client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def deliver(kind: str, write: Any, record: dict[str, Any], queue_url: str) -> bool:
    """Run `write()`; on failure hand `record` (what `write` stores) to the queue. True if written."""
    try:
        write()
        return True
    except (ClientError, BotoCoreError) as exc:
        logger.warning("write failed; sending to the undelivered queue", kind=kind, error=str(exc))
    message = json.dumps({"kind": kind, "record": record}, default=_json_default)
    try:
        client("sqs").send_message(QueueUrl=queue_url, MessageBody=message)
    except (ClientError, BotoCoreError) as exc:
        logger.error("record lost to the queue too", kind=kind, error=str(exc), record=message)
    return False
