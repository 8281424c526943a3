"""Lambda's execution environments for the local gateway: concurrent, bounded, one process each.

In AWS every concurrent request to a function gets its own instance (execution environment: a
process that runs one invocation at a time), started on demand (a cold start), up to the
function's reserved concurrency or the account's pool; past that Lambda throttles at once.

Instances here are processes, not threads, because the handler keeps per-request state in module
globals, which is safe only one request per process: the Powertools resolver keeps the current
event on `app` (`caller()` reads who is calling from it), Metrics collects an invocation's
metrics in class-level dicts that `log_metrics` flushes and clears, the Logger holds the
correlation id, and capturing what the handler prints swaps the process's stdout. In threads, one
request could act as another's caller, and flush or lose its metrics. (The gateway used to run
one request at a time for this reason: concurrency, and its races, never happened locally.)

A zygote process (a fresh interpreter, in the stack's environment) imports the handler once, as
Lambda's init does, and forks an instance for each cold start: ~10 ms instead of the ~1.6 s
import. A plain callable (a test's stub) runs in the gateway's threads instead.

The machine bounds what AWS would not: `concurrency` instances per function (10 by default, a new
account's whole quota; the dev stage reserves none). A request that finds all of them busy waits
up to `wait_seconds` for one (0: Lambda never queues a synchronous call), then is throttled.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
DEFAULT_CONCURRENCY = 10  # a new account's Lambda quota; the dev stage reserves none
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway cuts a Lambda integration off here
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LambdaContext:
    """The fields of the Lambda context object that Powertools reads."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    # Wall-clock (epoch) seconds: the same in every process.
    deadline: float = field(default_factory=lambda: time.time() + INTEGRATION_TIMEOUT_S)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-3:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


class Throttled(Exception):
    """Every instance of the function is busy and none freed up in time (Lambda's 429)."""


class FunctionError(Exception):
    """The handler raised, or its process died (Lambda's Unhandled / Runtime.ExitError)."""


class TimedOut(Exception):
    """No answer within the integration timeout (API Gateway's 504)."""


@dataclass(frozen=True)
class Invocation:
    result: dict[str, Any]
    printed: str  # what the handler printed: its EMF metrics
    cold_start: bool


class _ThreadInstance:
    """A plain callable, called in the gateway's thread: for stubs without module state."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    def invoke(self, event: dict[str, Any], context: LambdaContext, timeout: float) -> Invocation:
        try:
            return Invocation(self._handler(event, context), "", cold_start=False)
        except Exception as exc:
            raise FunctionError(repr(exc)) from exc

    @property
    def alive(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _serve(conn: Connection, handler: Handler) -> None:
    """An instance: one invocation at a time until the gateway hangs up."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        event, context = message
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                reply: tuple[str, Any] = ("ok", handler(event, context))
            except Exception:
                reply = ("error", traceback.format_exc())
        conn.send((*reply, out.getvalue()))


def _zygote(address: str, handler_path: str) -> None:
    """`python -m local_runtime.instances ADDRESS HANDLER` (key on stdin's first line): import
    the handler once (Lambda's init, in the stack's environment), then fork an instance per
    "start" line read from stdin; each connects back to the gateway's listener."""
    authkey = bytes.fromhex(sys.stdin.readline().strip())
    # Routes without metrics of their own make Powertools warn on every call (as LocalStack).
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    module, _, name = handler_path.partition(":")
    handler = getattr(importlib.import_module(module), name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # instances are reaped as they exit
    # Ctrl-C on `prodcat local up` is the gateway's to handle: the zygote and the instances
    # exit when it closes their pipes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin:
        if line.strip() != "start":
            continue
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            conn = Client(address, authkey=authkey)
            conn.send(os.getpid())
            try:
                _serve(conn, handler)
            finally:
                os._exit(0)


class _Zygote:
    """The process instances are forked from: a fresh interpreter (no threads, so forking is
    safe), in the functions' environment, that has imported the handler already."""

    def __init__(self, handler_path: str, environment: Mapping[str, str]) -> None:
        self._dir = tempfile.mkdtemp(prefix="prodcat-lambda-")
        address = os.path.join(self._dir, "instances.sock")
        authkey = secrets.token_bytes(32)
        self._listener = Listener(address, family="AF_UNIX", authkey=authkey)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_runtime.instances", address, handler_path],
            stdin=subprocess.PIPE,
            env=dict(environment),
            text=True,
        )
        assert self._process.stdin is not None
        self._stdin = self._process.stdin
        self._stdin.write(authkey.hex() + "\n")
        self._stdin.flush()
        self._lock = threading.Lock()

    def start(self) -> tuple[Connection, int]:
        """A new instance's connection and process id."""
        with self._lock:  # one fork, one accept: the connection that comes is this one's
            if self._process.poll() is not None:
                raise FunctionError(f"the handler's init failed ({self._process.returncode})")
            self._stdin.write("start\n")
            self._stdin.flush()
            conn = self._listener.accept()
            return conn, conn.recv()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        self._listener.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class _ProcessInstance:
    """One execution environment: a process forked from the zygote, one invocation at a time."""

    def __init__(self, conn: Connection, pid: int) -> None:
        self._conn = conn
        self._pid = pid
        self._used = False

    def invoke(self, event: dict[str, Any], context: LambdaContext, timeout: float) -> Invocation:
        cold, self._used = not self._used, True
        try:
            self._conn.send((event, context))
            if not self._conn.poll(timeout):
                self.close(kill=True)
                raise TimedOut(f"no answer in {timeout:.0f} s")
            status, value, printed = self._conn.recv()
        except (EOFError, OSError) as exc:
            self.close()
            raise FunctionError("the instance exited") from exc
        if status != "ok":
            # The runtime prints an unhandled error to the function's log; so does this.
            log.error("Lambda function error\n%s", value)
            raise FunctionError(value.strip().splitlines()[-1] if value else "error")
        return Invocation(value, printed, cold_start=cold)

    @property
    def alive(self) -> bool:
        return not self._conn.closed

    def close(self, kill: bool = False) -> None:
        if self._conn.closed:
            return
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(None)  # an idle instance exits when it reads this
        self._conn.close()
        if kill:  # a busy one (past its timeout) would not read it
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)


_Instance = _ThreadInstance | _ProcessInstance


@dataclass
class _Function:
    """One function's instances: idle ones, and how many exist (busy or idle)."""

    limit: int
    idle: list[_Instance] = field(default_factory=list)
    count: int = 0
    ready: threading.Condition = field(default_factory=threading.Condition)


@dataclass
class LambdaInstances:
    """Runs `handler` ("module:function" in processes, or a callable in threads) the way Lambda
    runs a function's instances: each busy with one invocation, at most `concurrency` of them."""

    handler: str | Handler
    concurrency: int = DEFAULT_CONCURRENCY
    wait_seconds: float = 0.0
    timeout_seconds: float = INTEGRATION_TIMEOUT_S
    # The functions' environment (the stack's settings); by default this process's, as it is now.
    environment: Mapping[str, str] | None = None
    _functions: dict[str, _Function] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        environment = dict(self.environment if self.environment is not None else os.environ)
        self._zygote: _Zygote | None = None
        if isinstance(self.handler, str):
            self._zygote = _Zygote(self.handler, environment)

    def invoke(self, function: str, event: dict[str, Any], context: LambdaContext) -> Invocation:
        """The handler's answer; raises Throttled, FunctionError or TimedOut as Lambda would."""
        pool = self._function(function)
        instance = self._acquire(pool)
        if instance is None:
            try:
                instance = self._start()
            except BaseException:
                self._release(pool, None)
                raise
        try:
            invocation = instance.invoke(event, context, self.timeout_seconds)
        except (FunctionError, TimedOut):
            # An error the handler raised leaves its instance in service, as Lambda's does.
            self._release(pool, instance if instance.alive else None)
            raise
        except BaseException:
            instance.close()
            self._release(pool, None)
            raise
        self._release(pool, instance)
        return invocation

    def instances(self) -> dict[str, int]:
        """How many instances each function has now (busy or idle)."""
        with self._lock:
            return {name: pool.count for name, pool in self._functions.items()}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools = list(self._functions.values())
        for pool in pools:
            with pool.ready:
                idle, pool.idle = pool.idle, []
                pool.count -= len(idle)
            for instance in idle:
                instance.close()
        if self._zygote is not None:
            self._zygote.close()

    def _function(self, name: str) -> _Function:
        with self._lock:
            if self._closed:
                raise RuntimeError("the local Lambda instances are closed")
            return self._functions.setdefault(name, _Function(self.concurrency))

    def _acquire(self, pool: _Function) -> _Instance | None:
        """An idle instance, or None when the caller may start one; raises Throttled."""
        deadline = time.monotonic() + self.wait_seconds
        with pool.ready:
            while True:
                if pool.idle:
                    return pool.idle.pop()
                if pool.count < pool.limit:
                    pool.count += 1
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Throttled(f"{pool.count} concurrent executions, the function's limit")
                pool.ready.wait(remaining)

    def _release(self, pool: _Function, instance: _Instance | None) -> None:
        """Back to idle; None: the instance is gone (failed to start, crashed, timed out)."""
        with pool.ready:
            if instance is None or self._closed:
                pool.count -= 1
            else:
                pool.idle.append(instance)
            pool.ready.notify()
        if instance is not None and self._closed:
            instance.close()

    def _start(self) -> _Instance:
        if self._zygote is None:
            assert not isinstance(self.handler, str)
            return _ThreadInstance(self.handler)
        return _ProcessInstance(*self._zygote.start())


if __name__ == "__main__":
    _zygote(sys.argv[1], sys.argv[2])
