"""The AWS services of the local runtime: a moto server on 127.0.0.1, and the environment that
points boto3 at it. The one starter `prodcat local up`, the pipeline's local run, `make images`
and the Lambda runtime sandbox test share."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

from local_runtime.serving import free_port


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """A moto server in a thread; yields its URL. moto keeps its state per process, not per
    server: it starts and leaves with a clean slate (/moto-api/reset), so a second server in the
    same process does not see the first one's resources."""
    from moto.server import ThreadedMotoServer

    port = port or free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        yield url
    finally:
        try:
            httpx.post(f"{url}/moto-api/reset", timeout=10)
        finally:
            server.stop()


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` set, restored on exit (boto3 reads AWS_ENDPOINT_URL and the
    credentials from it)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
