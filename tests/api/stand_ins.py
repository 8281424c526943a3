"""Servers on 127.0.0.1 that stand in for AWS services and model containers misbehaving: slow,
dead, or answering errors, so the real boto3 clients meet them over the wire."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Respond = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def http_server(respond: Respond) -> Iterator[str]:
    """Serve every request with `respond(handler)`; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            # The client may give up first: that is the point.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                respond(self)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="stand-in", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def slow_server(seconds: float = 60.0) -> Iterator[str]:
    """A service that accepts connections and then says nothing for `seconds` (a stalled AWS
    endpoint, a cold model): only the client's read timeout ends the wait."""
    released = threading.Event()

    def stall(handler: BaseHTTPRequestHandler) -> None:
        released.wait(seconds)
        handler.send_response(500)
        handler.end_headers()

    with http_server(stall) as url:
        try:
            yield url
        finally:
            released.set()


def container(status: int, body: Mapping[str, object]) -> Respond:
    """A model container whose /invocations answers `status` with a JSON `body`."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length)
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    return answer
