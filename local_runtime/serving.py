"""ASGI apps on 127.0.0.1 in background threads: the inference server (demo, benchmark, tests,
the local SageMaker endpoints), and the local stack's gateway and SageMaker runtime."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(
    app: Any, port: int | None = None, name: str = "server", timeout: float = 60.0
) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 in a thread; yields its URL once it listens, stops it on
    exit. The inference server, and the local stack's gateway and endpoints, run this way."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"prodcat-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the local {name} did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def running_server(model_dir: Path, port: int | None = None) -> Iterator[str]:
    """The inference server for `model_dir`; yields the base URL once it answers."""
    from inference.server import create_app  # the model's stack: imported by those who serve one

    with serve_app(create_app(model_dir), port, name="inference") as url:
        yield url
