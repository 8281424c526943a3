"""Writing undelivered records back: `prodcat records replay` (logs) and `prodcat records drain`
(the undelivered-records queue). Format in undelivered.py.

Idempotent: every record has a deterministic destination (S3 key, DynamoDB key) and exact bytes,
and each write is conditional. A record already there with the same content counts as already
present; one whose destination holds something else is left alone and reported as conflicting
(a seller who chose again since, say); a write that fails is reported and can be replayed again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.api.clients import client
from lambdas.api.request_log import deserialize, serialize
from lambdas.api.undelivered import (
    MARKER,
    Envelope,
    ItemDestination,
    ObjectDestination,
    Record,
    assemble,
    dynamodb_item,
    dynamodb_update,
    envelope_in,
    s3_object,
)

Result = Literal["delivered", "already_present", "conflicting"]
# Puts before updates: a seller's choice (an update) needs the request-log item it sets.
_ORDER = {"s3_put": 0, "dynamodb_put": 1, "dynamodb_update": 2}


@dataclass
class Outcome:
    delivered: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    conflicting: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # what -> why

    def add(self, record: Record, result: Result) -> None:
        getattr(self, result).append(_describe(record))

    def report(self) -> dict[str, Any]:
        return {
            "delivered": len(self.delivered),
            "already_present": len(self.already_present),
            "conflicting": len(self.conflicting),
            "failed": len(self.failed),
            "details": {
                "delivered": self.delivered,
                "already_present": self.already_present,
                "conflicting": self.conflicting,
                "failed": self.failed,
            },
        }


def _describe(record: Record) -> str:
    where = record.destination
    if isinstance(where, ObjectDestination):
        return f"{record.kind} s3://{where.bucket}/{where.key}"
    return f"{record.kind} dynamodb:{where.table}/{json.dumps(where.key, sort_keys=True)}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _existing_object(bucket: str, key: str) -> bytes | None:
    try:
        return bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404"):
            return None
        raise


def _put_object(record: Record, where: ObjectDestination) -> Result:
    try:
        client("s3").put_object(
            Bucket=where.bucket,
            Key=where.key,
            Body=record.body,
            ContentType=record.content_type or "application/octet-stream",
            IfNoneMatch="*",  # S3 conditional write: never replace what is there
        )
        return "delivered"
    except ClientError as exc:
        if _code(exc) not in ("PreconditionFailed", "412"):
            raise
    return (
        "already_present"
        if _existing_object(where.bucket, where.key) == record.body
        else "conflicting"
    )


def _get_item(where: ItemDestination) -> dict[str, Any] | None:
    found = client("dynamodb").get_item(
        TableName=where.table, Key=serialize(where.key), ConsistentRead=True
    )
    return deserialize(found["Item"]) if "Item" in found else None


def _holds(existing: dict[str, Any], values: dict[str, Any]) -> bool:
    """The item holds every attribute of `values` (as DynamoDB stores them: no nulls)."""
    wanted = deserialize(serialize(values))
    return all(existing.get(name) == value for name, value in wanted.items())


def _put_item(record: Record, where: ItemDestination) -> Result:
    item = json.loads(record.body)
    names = {f"#k{i}": name for i, name in enumerate(where.key)}
    try:
        client("dynamodb").put_item(
            TableName=where.table,
            Item=serialize(item),
            ConditionExpression=" AND ".join(f"attribute_not_exists({n})" for n in names),
            ExpressionAttributeNames=names,
        )
        return "delivered"
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
    existing = _get_item(where)
    # Attributes added since (a seller's chosen_code) do not make it a different record.
    return "already_present" if existing is not None and _holds(existing, item) else "conflicting"


def _update_item(record: Record, where: ItemDestination) -> Result:
    attributes = json.loads(record.body)
    existing = _get_item(where)
    if existing is None:
        raise LookupError(f"no item {where.key} in {where.table} to update (replay its put first)")
    if _holds(existing, attributes):
        return "already_present"
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    values = serialize({f":a{i}": value for i, value in enumerate(attributes.values())})
    client("dynamodb").update_item(
        TableName=where.table,
        Key=serialize(where.key),
        UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(names))),
        ConditionExpression="attribute_exists(#k)",
        ExpressionAttributeNames={**names, "#k": next(iter(where.key))},
        ExpressionAttributeValues=values,
    )
    return "delivered"


def write(record: Record) -> Result:
    """Write one record unless it is there already. Raises when the write fails."""
    where = record.destination
    if record.write == "s3_put" and isinstance(where, ObjectDestination):
        return _put_object(record, where)
    if isinstance(where, ItemDestination):
        if record.write == "dynamodb_put":
            return _put_item(record, where)
        if record.write == "dynamodb_update":
            return _update_item(record, where)
    raise ValueError(f"{record.kind}: cannot {record.write} to {where}")


def _try(record: Record, outcome: Outcome) -> Result | None:
    try:
        result = write(record)
    except (ClientError, BotoCoreError, LookupError, ValueError) as exc:
        outcome.failed[_describe(record)] = str(exc)
        return None
    outcome.add(record, result)
    return result


def replay(envelopes: Iterable[Envelope]) -> Outcome:
    """Join the envelopes into records and write each once."""
    assembled = assemble(envelopes)
    outcome = Outcome()
    for record_id, why in assembled.incomplete.items():
        outcome.failed[f"record {record_id}"] = why
    for record in sorted(assembled.records, key=lambda r: _ORDER[r.write]):
        _try(record, outcome)
    return outcome


# --- where undelivered records are read from ---------------------------------------------


def envelopes_in_files(paths: Iterable[Path]) -> Iterator[Envelope]:
    """Every envelope in these log files (one JSON line each; other lines are skipped)."""
    for path in paths:
        with Path(path).open(encoding="utf-8") as lines:
            for line in lines:
                envelope = envelope_in(line)
                if envelope is not None:
                    yield envelope


def envelopes_in_log_groups(
    log_groups: Iterable[str], start: datetime, end: datetime
) -> Iterator[Envelope]:
    """Every envelope logged in these CloudWatch log groups between `start` and `end`."""
    logs = client("logs")
    for group in log_groups:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group,
            startTime=int(start.timestamp() * 1000),
            endTime=int(end.timestamp() * 1000),
            filterPattern=f'"{MARKER}"',
        )
        for page in pages:
            for event in page.get("events", []):
                envelope = envelope_in(event["message"])
                if envelope is not None:
                    yield envelope


def _stack_resources(stage: str, resource_type: str) -> list[str]:
    stack = f"prodcat-{stage}-api"  # infra/stage.py
    pages = client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack)
    return [
        r["PhysicalResourceId"]
        for page in pages
        for r in page["StackResourceSummaries"]
        if r["ResourceType"] == resource_type
    ]


def api_log_groups(stage: str) -> list[str]:
    """The log groups of a deployed stage's API functions (generated names: from its stack)."""
    return _stack_resources(stage, "AWS::Logs::LogGroup")


def undelivered_queue(stage: str) -> str:
    """The URL of a deployed stage's undelivered-records queue (a queue's physical id)."""
    (queue,) = _stack_resources(stage, "AWS::SQS::Queue")
    return queue


# --- the queue ---------------------------------------------------------------------------


def _legacy(message: dict[str, Any]) -> Record | None:
    """A message queued before undelivered.py: `{"kind", "record"}`."""
    kind, record = message.get("kind"), message.get("record")
    if not isinstance(kind, str) or not isinstance(record, dict):
        return None
    if "body" in record:
        body = json.dumps(record["body"], separators=(",", ":"), ensure_ascii=False).encode()
        return s3_object(kind, record["bucket"], record["key"], body, "application/json")
    if "item" in record:
        item = record["item"]
        key = {"user_id": item["user_id"], "requested_at": item["requested_at"]}
        return dynamodb_item(kind, record["table"], key, item)
    if "chosen_code" in record:
        key = {"user_id": record["user_id"], "requested_at": record["prediction_id"]}
        return dynamodb_update(kind, record["table"], key, {"chosen_code": record["chosen_code"]})
    return None  # a photo's size and hash only: its bytes were never kept


def _pointer_done(envelope: Envelope) -> bool:
    """A pointer's record is in the logs: done once a replay from them has written it."""
    where = envelope.destination
    if not isinstance(where, ObjectDestination):
        return False
    body = _existing_object(where.bucket, where.key)
    return body is not None and hashlib.sha256(body).hexdigest() == envelope.sha256


def drain(queue_url: str, *, visibility_seconds: int = 120) -> Outcome:
    """Write every record in the queue; delete each message once its record is there.

    What cannot be written stays in the queue (its alarm stays on) for the next drain."""
    sqs = client("sqs")
    outcome = Outcome()
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:  # empty, or only what this drain already tried (visible again)
            return outcome
        for message in fresh:
            seen.add(message["MessageId"])
            if _drain_one(message["Body"], message["MessageId"], outcome):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _drain_one(body: str, message_id: str, outcome: Outcome) -> bool:
    """True when the message's record is where it belongs (the message can go)."""
    try:
        envelope = envelope_in(body)
        if envelope is None:
            record = _legacy(json.loads(body))
            if record is None:
                outcome.failed[f"message {message_id}"] = "no record in it, or no payload"
                return False
        elif envelope.payload is None:
            if _pointer_done(envelope):
                outcome.already_present.append(f"{envelope.kind} (from the logs) {envelope.id}")
                return True
            outcome.failed[f"{envelope.kind} {envelope.id}"] = (
                "payload in the API's logs: run `prodcat records replay` first"
            )
            return False
        else:
            (record,) = assemble([envelope]).records
    except (ValueError, KeyError, TypeError, ClientError) as exc:
        outcome.failed[f"message {message_id}"] = f"unreadable: {exc}"
        return False
    return _try(record, outcome) in ("delivered", "already_present")
