"""The request log: every /predict per user, newest first, expiring after the configured days.

Keys (infra/constructs/tables_construct.py): partition `user_id` (the Cognito sub), sort
`requested_at` = ISO-8601 UTC time + "#" + request id, which is also the prediction id a seller
sends back with /feedback. Reading is only ever by partition, so a seller's query cannot reach
another seller's items.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from lambdas.api.clients import client
from lambdas.api.errors import BadRequest
from lambdas.api.models import LogEntry, LogPage
from prodcat_contracts.lake import PhotoRef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def prediction_id(requested_at: datetime, request_id: str) -> str:
    return f"{requested_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{request_id}"


def request_id_of(prediction: str) -> str:
    return prediction.rpartition("#")[2]


def _to_dynamo(value: Any) -> Any:
    """DynamoDB has no floats: numbers go in as Decimal."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in _to_dynamo(item).items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return _from_dynamo({k: _deserializer.deserialize(v) for k, v in item.items()})


def log_item(
    entry: LogEntry, *, request_id: str, photo: PhotoRef | None, mode: str, ttl_days: int
) -> dict[str, Any]:
    expires = entry.requested_at + timedelta(days=ttl_days)
    return {
        "user_id": entry.user_id,
        "requested_at": entry.prediction_id,
        "request_id": request_id,
        "at": entry.requested_at.isoformat(),
        "designation": entry.input.designation,
        "description": entry.input.description,
        "photo_bytes": entry.input.photo_bytes,
        "photo_key": photo.key if photo else None,
        "photo_sha256": photo.sha256 if photo else None,
        "mode": mode,
        "predictions": [p.model_dump() for p in entry.predictions],
        "model_version": entry.model_version,
        "latency_ms": entry.latency_ms,
        "expires_at": int(expires.timestamp()),
    }


def entry_from_item(item: dict[str, Any]) -> LogEntry:
    return LogEntry.model_validate(
        {
            "prediction_id": item["requested_at"],
            "user_id": item["user_id"],
            "requested_at": item["at"],
            "input": {
                "designation": item.get("designation"),
                "description": item.get("description"),
                "photo_bytes": item.get("photo_bytes"),
            },
            "predictions": item.get("predictions", []),
            "model_version": item["model_version"],
            "latency_ms": item["latency_ms"],
            "chosen_code": item.get("chosen_code"),
        }
    )


def put(table: str, item: dict[str, Any]) -> None:
    client("dynamodb").put_item(TableName=table, Item=serialize(item))


def get(table: str, user_id: str, prediction: str) -> dict[str, Any] | None:
    found = client("dynamodb").get_item(
        TableName=table,
        Key=serialize({"user_id": user_id, "requested_at": prediction}),
        ConsistentRead=True,
    )
    return deserialize(found["Item"]) if "Item" in found else None


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(deserialize(key)).encode()).decode()


def _decode_token(token: str, user_id: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        valid = (
            isinstance(key, dict)
            and set(key) == {"user_id", "requested_at"}
            and all(isinstance(v, str) for v in key.values())
        )
    except (binascii.Error, ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise BadRequest("next_token is not one this API gave out: start again without it")
    if key["user_id"] != user_id:
        raise BadRequest("next_token belongs to another user's log: start again without it")
    return serialize(key)


def query(table: str, user_id: str, *, limit: int, next_token: str | None) -> LogPage:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "user_id = :u",
        "ExpressionAttributeValues": {":u": {"S": user_id}},
        "ScanIndexForward": False,  # the sort key starts with the time: newest first
        "Limit": limit,
    }
    if next_token:
        request["ExclusiveStartKey"] = _decode_token(next_token, user_id)
    page = client("dynamodb").query(**request)
    last = page.get("LastEvaluatedKey")
    return LogPage(
        items=[entry_from_item(deserialize(i)) for i in page.get("Items", [])],
        next_token=_encode_token(last) if last else None,
    )


def set_chosen_code(table: str, user_id: str, prediction: str, code: int) -> None:
    client("dynamodb").update_item(
        TableName=table,
        Key=serialize({"user_id": user_id, "requested_at": prediction}),
        UpdateExpression="SET chosen_code = :c",
        ConditionExpression="attribute_exists(user_id)",
        ExpressionAttributeValues={":c": {"N": str(code)}},
    )
