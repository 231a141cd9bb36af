"""Signs of life for long commands: one status line on stderr, only when it is a terminal.

Long commands (``classify``, ``compare``, ``demo``, ``bench``, long ``run``s) call
:meth:`Progress.update` as they go; the line is rewritten in place at most a few times a
second and erased before the command prints its results, so nothing of it reaches a
pipe, a file or the tests.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A rate-limited status line (a no-op unless ``stream`` is a terminal)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, interval: float = 0.2):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.interval = interval
        self._last = 0.0
        self._width = 0

    def update(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        line = f"  {text}"[:100]
        self.stream.write(line.ljust(self._width) + "\r")
        self.stream.flush()
        self._width = len(line)

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write(" " * self._width + "\r")
            self.stream.flush()
            self._width = 0
