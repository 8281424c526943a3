"""SageMaker serving contract: GET /ping, POST /invocations on port 8080, model in /opt/ml/model.

Bad input is always a 4xx whose message says what to fix; a 500 means a bug.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from inference import batch
from inference.predictor import Predictor
from prodcat.model import ModelCapabilityError
from prodcat.photos import PhotoError
from prodcat_contracts.listing import Batch, Listing
from prodcat_contracts.request_policy import BodyRefused, RequestPolicy, bounded_errors, clip

log = logging.getLogger("prodcat.inference")
DEFAULT_MODEL_DIR = "/opt/ml/model"
# The container's own ceiling, not a serverless one: a serverless endpoint passes at most 4 MB per
# request (the API keeps under it), while a Batch Transform job sends up to its MaxPayloadInMB
# (prodcat/transform_job.py) and the local stack whatever it is given. 6 MiB holds a 3 MiB photo in
# base64 (prodcat.photos.MAX_PHOTO_BYTES) with room for the JSON around it.
MAX_BODY_BYTES = 6 * 1024 * 1024
# The API's request policy (prodcat_contracts/request_policy.py), with this container's own ceilings: a
# 3 MiB photo (prodcat.photos.MAX_PHOTO_BYTES) is 4,194,304 characters of base64.
POLICY = RequestPolicy(max_body_bytes=MAX_BODY_BYTES, max_string_chars=4_200_000)
# The model runs in these threads, never on the event loop, so /ping and the next request's
# parsing go on while a listing is scored. e5 (C, OpenMP) and torch release the GIL; the
# scikit-learn part does not, so more threads than cores only queue: one per core by default.
PREDICT_THREADS = int(os.environ.get("PRODCAT_PREDICT_THREADS", str(os.cpu_count() or 1)))


def _error(
    status: int, message: str, details: Any = None, details_omitted: int | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": clip(message, 1000)}
    if details is not None:
        body["details"] = details
    if details_omitted:
        body["details_omitted"] = details_omitted
    return JSONResponse(status_code=status, content=body)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "message": e["msg"].removeprefix("Value error, "),
        }
        for e in exc.errors()
    ]


def create_app(model_dir: Path | None = None) -> FastAPI:
    app = FastAPI(title="prodcat inference", version="1")
    predictor = Predictor(Path(model_dir or os.environ.get("PRODCAT_MODEL_DIR", DEFAULT_MODEL_DIR)))
    log.info("model %s loaded in %.2f s", predictor.model.version, predictor.load_seconds)
    app.state.predictor = predictor
    pool = ThreadPoolExecutor(max_workers=PREDICT_THREADS, thread_name_prefix="predict")
    photos = batch.photo_store_from_env()  # photo_key lines (Batch Transform) read the lake

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok", "model_version": predictor.model.version}

    @app.post("/invocations")
    async def invocations(request: Request) -> Any:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype in batch.JSON_LINES_TYPES:  # a Batch Transform mini-batch: in the pool too
            body = await request.body()
            return await asyncio.get_running_loop().run_in_executor(
                pool, batch.answer, body, predictor, POLICY, photos
            )
        if ctype != "application/json":
            return _error(
                415,
                f"content type {ctype or '(none)'} is not supported; send application/json "
                "(or application/jsonlines: one listing per line)",
            )
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(
                413, f"the request is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes"
            )
        try:
            payload = POLICY.parse(body.decode("utf-8"))
        except UnicodeDecodeError:
            return _error(400, "the body is not UTF-8 JSON")
        except BodyRefused as refused:
            return _error(refused.status, refused.message)
        is_batch = isinstance(payload, dict) and "instances" in payload
        try:
            listings = (
                Batch.model_validate(payload).instances
                if is_batch
                else [Listing.model_validate(payload)]
            )
        except ValidationError as exc:
            # Bounded: 200,000 unknown fields must not become a 12 MB answer.
            errors = bounded_errors(_field_errors(exc))
            return _error(
                400,
                "the request is not a valid listing",
                errors["errors"],
                details_omitted=errors.get("errors_omitted"),
            )
        try:
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(pool, predictor.predict, listings)
        except PhotoError as exc:
            status = 413 if exc.reason in {"too_large", "too_many_pixels"} else 400
            return _error(status, f"photo rejected: {exc}", {"reason": exc.reason})
        except ModelCapabilityError as exc:
            return _error(422, str(exc))
        if is_batch:
            return {"results": [r.model_dump() for r in results]}
        return results[0].model_dump()

    return app


def serve() -> None:
    """The container's `serve` command. One worker by default: torch already uses every core."""
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        "inference.server:create_app",
        factory=True,
        host=os.environ.get("PRODCAT_HOST", "0.0.0.0"),  # a container's port must be reachable
        port=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")),
        workers=int(os.environ.get("PRODCAT_WORKERS", "1")),
        timeout_keep_alive=75,  # above the gateway's idle timeout, so it never reuses a closed socket
    )


if __name__ == "__main__":
    serve()
