"""Undelivered records: one format for the queue and the logs, so either can be replayed.

A record the API accepted but could not write is described completely: what kind it is, where it
goes (bucket + key, or table + item key), how it is written, and the exact bytes to write. The
undelivered-records queue holds it as one message; when the queue is down too (or the record is
too large for it, as most photos are), it is printed as JSON lines on stdout, which Lambda sends
to the function's CloudWatch log group:

    {"level": "ERROR", "message": "...", "timestamp": "...", "service": "...",
     "undelivered_record": {"format": 1, "id": "...", "kind": "capture_photo",
                            "write": "s3_put", "destination": {"bucket": "...", "key": "..."},
                            "content_type": "...", "encoding": "base64", "bytes": 812345,
                            "sha256": "...", "chunk": 1, "chunks": 23, "payload": "..."}}

A payload too long for one line is split into numbered chunks with the same `id`. CloudWatch Logs
takes events up to 256 KB (1 MB since 2025 through PutLogEvents), but Lambda splits a stdout line
of more than 256 KB - 26 bytes into several events, and some runtimes' log pipes have been seen
to split at 64 KiB: every line stays under LINE_LIMIT, so no line is ever cut.
`prodcat records replay` (lambdas/api/replay.py) reads these lines back, joins the chunks, checks
the SHA-256 and writes each record once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT = 1
MARKER = "undelivered_record"
# A log line's most bytes (JSON, ASCII-escaped): under the 64 KiB at which a log pipe may split.
LINE_LIMIT = 60_000
# What a chunk's payload may take of it, leaving room for the envelope and any logger's fields.
PAYLOAD_LIMIT = 48_000
# The undelivered-records queue's message limit: SQS's classic 256 KiB (newer queues take 1 MiB;
# this fits both). A larger record goes to the logs, and the queue gets a pointer to it.
QUEUE_LIMIT = 256 * 1024

Write = Literal["s3_put", "dynamodb_put", "dynamodb_update"]


class ObjectDestination(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str


class ItemDestination(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str
    key: dict[str, str] = Field(description="the item's primary key (string attributes)")


class Envelope(BaseModel):
    """What a queue message or a log line holds under MARKER: one record, or one chunk of it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: Literal[1] = 1  # FORMAT
    id: str
    kind: str = Field(description="capture, capture_photo, request_log, feedback, ...")
    write: Write
    destination: ObjectDestination | ItemDestination
    content_type: str | None = None
    encoding: Literal["utf-8", "base64"]
    bytes: int = Field(ge=0, description="length of the whole payload, decoded")
    sha256: str = Field(description="of the whole payload, decoded")
    chunk: int = Field(1, ge=1)
    chunks: int = Field(1, ge=1)
    payload: str | None = Field(description="this chunk of the encoded payload; None: in the logs")
    in_logs: bool = Field(False, description="a queue pointer: the payload was logged instead")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class Record:
    """A write the API owes: `body` is exactly what is written (an S3 object's bytes, or the
    JSON of a DynamoDB item or of the attributes an update sets)."""

    kind: str
    write: Write
    destination: ObjectDestination | ItemDestination
    body: bytes
    content_type: str | None = None

    @property
    def encoding(self) -> Literal["utf-8", "base64"]:
        textual = self.write != "s3_put" or self.content_type == "application/json"
        return "utf-8" if textual else "base64"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def id(self) -> str:
        """Stable for the same write of the same bytes: a record logged twice is one record."""
        where = self.destination.model_dump_json()
        return hashlib.sha256(f"{self.write}|{where}|{self.sha256}".encode()).hexdigest()[:32]

    def _encoded(self) -> str:
        if self.encoding == "utf-8":
            return self.body.decode("utf-8")
        return base64.b64encode(self.body).decode("ascii")

    def envelope(self, payload: str | None, chunk: int = 1, chunks: int = 1) -> Envelope:
        return Envelope(
            id=self.id,
            kind=self.kind,
            write=self.write,
            destination=self.destination,
            content_type=self.content_type,
            encoding=self.encoding,
            bytes=len(self.body),
            sha256=self.sha256,
            chunk=chunk,
            chunks=chunks,
            payload=payload,
            in_logs=payload is None,
        )

    def envelopes(self, limit: int = PAYLOAD_LIMIT) -> list[Envelope]:
        """The record in chunks whose payload is at most `limit` bytes as JSON."""
        pieces = _split(self._encoded(), limit)
        return [self.envelope(p, i, len(pieces)) for i, p in enumerate(pieces, start=1)]

    def queue_message(self) -> str:
        return json.dumps({MARKER: self.envelope(self._encoded()).model_dump(mode="json")})

    def pointer_message(self) -> str:
        """For the queue when the record itself went to the logs: what, where, how to find it."""
        return json.dumps({MARKER: self.envelope(None).model_dump(mode="json")})


def _split(text: str, limit: int) -> list[str]:
    """`text` in pieces each at most `limit` bytes once JSON-escaped (never an empty list)."""
    pieces, start = [], 0
    while True:
        size = limit
        while size > 1 and len(json.dumps(text[start : start + size])) > limit:
            size //= 2  # escapes (quotes, non-ASCII) take up to 12 bytes a character
        pieces.append(text[start : start + size])
        start += size
        if start >= len(text):
            return pieces


def s3_object(kind: str, bucket: str, key: str, body: bytes, content_type: str) -> Record:
    return Record(kind, "s3_put", ObjectDestination(bucket=bucket, key=key), body, content_type)


def dynamodb_item(kind: str, table: str, key: dict[str, str], item: dict[str, Any]) -> Record:
    return Record(kind, "dynamodb_put", ItemDestination(table=table, key=key), _item_json(item))


def dynamodb_update(
    kind: str, table: str, key: dict[str, str], attributes: dict[str, Any]
) -> Record:
    """SET these attributes on an item that exists (no upsert: a missing item fails)."""
    return Record(
        kind, "dynamodb_update", ItemDestination(table=table, key=key), _item_json(attributes)
    )


def _item_json(values: dict[str, Any]) -> bytes:
    return json.dumps(
        values, default=_json_default, separators=(",", ":"), ensure_ascii=False
    ).encode()


def log_lines(record: Record) -> list[str]:
    """The JSON lines that hold `record` in full, each under LINE_LIMIT bytes."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "prodcat-api")
    lines = []
    for envelope in record.envelopes():
        line = json.dumps(
            {
                "level": "ERROR",
                "message": "record undelivered (write and queue failed): "
                "`prodcat records replay` writes it from this log",
                "timestamp": now,
                "service": service,
                MARKER: envelope.model_dump(mode="json"),
            }
        )
        lines.append(line)  # under LINE_LIMIT (tests/api/test_undelivered_records.py)
    return lines


def print_lines(record: Record) -> int:
    """Print the record's log lines to stdout (Lambda sends them to CloudWatch Logs).

    Printed, not logged: a log-level setting must never be able to drop the only copy."""
    lines = log_lines(record)
    for line in lines:
        print(line, file=sys.stdout, flush=True)
    return len(lines)


def envelope_in(text: str) -> Envelope | None:
    """The envelope in one log line or queue message, or None when it holds none.

    Lenient about what surrounds it: a prefix before the JSON (an exported log's timestamp), or
    the line nested as a string or object under "message" by a log format that wraps lines."""
    start = text.find("{")
    if start < 0 or MARKER not in text:
        return None
    try:
        parsed: Any = json.loads(text[start:])
    except ValueError:
        return None
    for _ in range(3):
        if isinstance(parsed, dict) and isinstance(parsed.get(MARKER), dict):
            return Envelope.model_validate(parsed[MARKER])
        inner = parsed.get("message") if isinstance(parsed, dict) else None
        if isinstance(inner, str):
            try:
                parsed = json.loads(inner)
            except ValueError:
                return None
        elif isinstance(inner, dict):
            parsed = inner
        else:
            return None
    return None


@dataclass(frozen=True)
class Assembled:
    """Records put back together from envelopes, and what could not be."""

    records: list[Record]
    incomplete: dict[str, str]  # id -> why (chunks missing, checksum mismatch)


def assemble(envelopes: Iterable[Envelope]) -> Assembled:
    """Join chunks by id (duplicates are fine: the same chunk logged twice is the same bytes)."""
    by_id: dict[str, dict[int, Envelope]] = {}
    for envelope in envelopes:
        if envelope.payload is None:
            continue  # a queue pointer: the record itself is in the logs
        by_id.setdefault(envelope.id, {})[envelope.chunk] = envelope
    records, incomplete = [], {}
    for record_id, chunks in by_id.items():
        first = next(iter(chunks.values()))
        missing = sorted(set(range(1, first.chunks + 1)) - set(chunks))
        if missing:
            incomplete[record_id] = f"{first.kind}: chunks {missing} of {first.chunks} not found"
            continue
        text = "".join(chunks[i].payload or "" for i in range(1, first.chunks + 1))
        body = text.encode("utf-8") if first.encoding == "utf-8" else base64.b64decode(text)
        record = Record(first.kind, first.write, first.destination, body, first.content_type)
        if record.sha256 != first.sha256:
            incomplete[record_id] = f"{first.kind}: SHA-256 of the joined payload differs"
            continue
        records.append(record)
    return Assembled(records=records, incomplete=incomplete)
