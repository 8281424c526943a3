"""JSON Lines on /invocations: the SageMaker Batch Transform contract for a whole catalogue.

A transform job (ContentType `application/jsonlines`, SplitType=Line, BatchStrategy=MultiRecord,
AssembleWith=Line) sends as many lines as fit in MaxPayloadInMB; each line is one listing:

    {"id": "123", "designation": "...", "description": "...", "photo": "<base64>", "top_k": 5}
    {"id": "124", "designation": "...", "photo_key": "raw/base/images/image_1_product_124.jpg"}

and gets back exactly one line per input line, in order:

    {"id": "123", "predictions": [...], "model_version": "...", "modalities": ["text"]}
    {"id": "124", "error": "photo rejected: ...", "status": 400, "model_version": "..."}

Why a bad line is an error *line* and not a failed request: Batch Transform fails the whole job
when the container answers a mini-batch with an error, so one empty listing in an 85,000-row
catalogue would throw away every other answer of the job. An error line keeps the output aligned
with the input (line N answers line N, as AssembleWith=Line users join them) and says, by id, what
to fix: the same message and status /invocations gives that listing as JSON. Only faults of the
request as a whole (content type, body over the payload limit) are 4xx answers.

Each line passes the same request policy (prodcat_contracts/request_policy.py) as a JSON body before it
is parsed; lines are classified 32 at a time, so memory follows the body, not the catalogue.
A `photo_key` is read from the data lake's raw zone (the serving role may read nothing else).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inference.predictor import Predictor
from prodcat.model import ModelCapabilityError
from prodcat.photos import MAX_PHOTO_BYTES, PhotoError
from prodcat_contracts import job_env
from prodcat_contracts.lake import ZONES
from prodcat_contracts.listing import MAX_BATCH, Listing
from prodcat_contracts.request_policy import BodyRefused, RequestPolicy, bounded_errors, clip

JSON_LINES_TYPES = frozenset(
    {"application/jsonlines", "application/jsonl", "application/x-jsonlines"}
)
MAX_ID_CHARS = 256
MAX_KEY_CHARS = 1024


class PhotoKeyError(ValueError):
    """A `photo_key` that cannot be read; the message says why (becomes the line's error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PhotoStore(Protocol):
    def read(self, key: str) -> bytes: ...


def _checked_key(key: str, raw_prefix: str) -> str:
    parts = PurePosixPath(key).parts
    if not key.startswith(raw_prefix) or key.startswith("/") or ".." in parts:
        raise PhotoKeyError(
            400, f"photo_key {clip(key)!r} is not under the raw zone {raw_prefix!r}"
        )
    return key


def _too_large(key: str, size: int) -> PhotoKeyError:
    return PhotoKeyError(
        413, f"photo {clip(key)!r} is {size} bytes; the limit is {MAX_PHOTO_BYTES} bytes"
    )


@dataclass(frozen=True)
class LakePhotos:
    """Photos in the data lake's bucket, keys under the raw zone only."""

    bucket: str
    raw_prefix: str = "raw/"
    client: Any = None

    def read(self, key: str) -> bytes:
        import boto3
        from botocore.exceptions import ClientError

        s3 = self.client or boto3.client("s3")
        try:
            obj = s3.get_object(Bucket=self.bucket, Key=_checked_key(key, self.raw_prefix))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404"}:
                raise PhotoKeyError(400, f"no photo at {clip(key)!r}") from exc
            raise  # the lake failing is not the line's fault: the request fails, SageMaker retries
        body = obj["Body"]
        if obj["ContentLength"] > MAX_PHOTO_BYTES:  # refused before its bytes are read
            body.close()
            raise _too_large(key, obj["ContentLength"])
        return bytes(body.read())


@dataclass(frozen=True)
class DirectoryPhotos:
    """A local copy of the lake (or a challenge-format directory with raw_prefix="")."""

    root: Path
    raw_prefix: str = "raw/"

    def read(self, key: str) -> bytes:
        path = self.root / _checked_key(key, self.raw_prefix)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise PhotoKeyError(400, f"no photo at {clip(key)!r}") from exc
        if size > MAX_PHOTO_BYTES:
            raise _too_large(key, size)
        return path.read_bytes()


def photo_store_from_env() -> PhotoStore | None:
    """The serving container's lake: PRODCAT_DATA_LAKE_BUCKET (AWS) or PRODCAT_LAKE_DIR."""
    prefix = os.environ.get(job_env.RAW_PREFIX, ZONES.raw)
    if bucket := os.environ.get(job_env.DATA_LAKE_BUCKET):
        return LakePhotos(bucket, prefix)
    if root := os.environ.get("PRODCAT_LAKE_DIR"):
        return DirectoryPhotos(Path(root), prefix)
    return None


class BatchLine(BaseModel):
    """One input line: a listing, its id, and its photo inline or as a lake key."""

    model_config = ConfigDict(extra="forbid")

    id: str | int = Field(description="echoed on the output line")
    designation: str | None = None
    description: str | None = None
    photo: str | None = None
    photo_key: str | None = Field(None, max_length=MAX_KEY_CHARS)
    top_k: int = 5


@dataclass
class _Pending:
    position: int
    line_id: Any
    listing: Listing


def _field_errors(exc: ValidationError) -> dict[str, Any]:
    return bounded_errors(
        [
            {
                "field": ".".join(str(p) for p in e["loc"]) or "line",
                "message": e["msg"].removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
    )


def _error_line(line_id: Any, status: int, message: str, details: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": line_id, "error": clip(message, 1000), "status": status}
    if details:
        out["details"] = details["errors"]
        if details.get("errors_omitted"):
            out["details_omitted"] = details["errors_omitted"]
    return out


def _line_id(payload: Any) -> Any:
    raw = payload.get("id") if isinstance(payload, dict) else None
    return raw if isinstance(raw, str | int) and len(str(raw)) <= MAX_ID_CHARS else None


def parse_line(
    raw: bytes, policy: RequestPolicy, photos: PhotoStore | None
) -> tuple[Any, Listing | dict[str, Any]]:
    """(id, the listing) or (id, its error line); the id is None when the line has none."""
    try:
        payload = policy.parse(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, _error_line(None, 400, "the line is not UTF-8 JSON")
    except BodyRefused as refused:
        return None, _error_line(None, refused.status, refused.message)
    line_id = _line_id(payload)
    if not isinstance(payload, dict):
        return None, _error_line(None, 400, "a line must be a JSON object: one listing")
    try:
        line = BatchLine.model_validate(payload)
        if line_id is None or not str(line.id).strip():
            return line_id, _error_line(
                line_id, 400, f"every line needs an `id` of 1-{MAX_ID_CHARS} characters"
            )
        photo = line.photo
        if line.photo_key is not None:
            if photo is not None:
                return line_id, _error_line(line_id, 400, "send `photo` or `photo_key`, not both")
            if photos is None:
                return line_id, _error_line(
                    line_id, 400, "this container reads no photo keys: send the photo inline"
                )
            photo = base64.b64encode(photos.read(line.photo_key)).decode("ascii")
        listing = Listing(
            designation=line.designation,
            description=line.description,
            photo=photo,
            top_k=line.top_k,
        )
    except ValidationError as exc:
        return line_id, _error_line(
            line_id, 400, "the line is not a valid listing", _field_errors(exc)
        )
    except PhotoKeyError as exc:
        return line_id, _error_line(line_id, exc.status, str(exc))
    return line_id, listing


def _refusal(line_id: Any, exc: PhotoError | ModelCapabilityError) -> dict[str, Any]:
    # The statuses /invocations gives the same listing as JSON (inference/server.py).
    if isinstance(exc, ModelCapabilityError):
        return _error_line(line_id, 422, str(exc))
    status = 413 if exc.reason in {"too_large", "too_many_pixels"} else 400
    return _error_line(line_id, status, f"photo rejected: {exc}")


def _answers(predictor: Predictor, pending: list[_Pending]) -> list[dict[str, Any]]:
    """Answer a chunk; when one listing's photo or mode is refused, answer each on its own."""
    try:
        results = predictor.predict([p.listing for p in pending])
    except (PhotoError, ModelCapabilityError) as exc:
        if len(pending) == 1:
            return [_refusal(pending[0].line_id, exc)]
        return [answer for one in pending for answer in _answers(predictor, [one])]
    return [{"id": p.line_id, **r.model_dump()} for p, r in zip(pending, results, strict=True)]


def classify_lines(
    lines: list[bytes],
    predictor: Predictor,
    policy: RequestPolicy,
    photos: PhotoStore | None = None,
) -> list[dict[str, Any]]:
    """One output object per input line, in order."""
    out: list[dict[str, Any] | None] = [None] * len(lines)
    pending: list[_Pending] = []

    def flush() -> None:
        for item, answer in zip(pending, _answers(predictor, pending), strict=True):
            out[item.position] = answer
        pending.clear()

    for position, raw in enumerate(lines):
        if not raw.strip():
            out[position] = _error_line(None, 400, "the line is empty: one listing per line")
            continue
        line_id, parsed = parse_line(raw, policy, photos)
        if isinstance(parsed, Listing):
            pending.append(_Pending(position, line_id, parsed))
            if len(pending) == MAX_BATCH:
                flush()
        else:
            out[position] = parsed
    if pending:
        flush()
    version = predictor.model.version
    return [{**o, "model_version": version} if "error" in o else o for o in out if o is not None]


def split_lines(body: bytes) -> list[bytes]:
    """Lines as Batch Transform's SplitType=Line cuts them (\\n or \\r\\n; a final newline
    ends the last line rather than starting an empty one)."""
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.removesuffix(b"\r") for line in lines]


def render_lines(objects: list[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for o in objects
    )


def answer(
    body: bytes, predictor: Predictor, policy: RequestPolicy, photos: PhotoStore | None
) -> Response:
    """The /invocations answer to a JSON Lines body: 200 with one line per line, or a 413
    when the body is over the container's limit (a transform job's MaxPayloadInMB is set
    below it, so only a caller that ignores it gets one)."""
    if len(body) > policy.max_body_bytes:
        return JSONResponse(
            status_code=413,
            content={
                "error": f"the request is {len(body)} bytes; the limit is "
                f"{policy.max_body_bytes} bytes: set MaxPayloadInMB to at most "
                f"{policy.max_body_bytes // (1024 * 1024)}"
            },
        )
    lines = classify_lines(split_lines(body), predictor, policy, photos)
    return Response(render_lines(lines), media_type="application/jsonlines")
