"""The handlers' log lines in a file, as CloudWatch Logs holds them for the Lambdas in AWS.

The local stack appends what the handlers print to one file (`.work/local/logs/api.log` by
default), one line per printed line: EMF metrics and undelivered
records (lambdas/api/undelivered.py prints them rather than logging them, so a log level cannot
drop them). `prodcat records replay --log-file` reads the records back from it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path


class HandlerLog:
    """Append lines to `path`; pass what was printed on to `then` (the EMF publisher)."""

    def __init__(self, path: Path, then: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._then = then
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def printed(self, text: str) -> None:
        """The gateway's `printed` hook: what one invocation printed on stdout."""
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
        if self._then is not None:
            self._then(text)
