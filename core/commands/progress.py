"""Rendering a run's events in a terminal: a progress bar on a TTY, sparse lines otherwise."""

from __future__ import annotations

import sys
from typing import IO, Any


class TerminalProgress:
    """An event sink for :func:`core.jobs.execute.execute_run` that draws progress on stderr.

    Nothing is drawn for runs that finish in one go (small imports); a bar appears once a
    stage reports partial progress.
    """

    def __init__(self, stream: IO[str] | None = None, width: int = 30) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._width = width
        self._last_decile = -1
        self._drawn = False

    def __call__(self, event: dict[str, Any]) -> None:
        if event["kind"] != "progress":
            return
        fraction, message = float(event["fraction"]), str(event.get("message", ""))
        if fraction >= 1.0 and not self._drawn:
            return
        if self._tty:
            filled = int(fraction * self._width)
            bar = "#" * filled + "-" * (self._width - filled)
            end = "\n" if fraction >= 1.0 else ""
            self._stream.write(f"\r[{bar}] {fraction:6.1%} {message[:60]:<60}{end}")
        elif int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            self._stream.write(f"{fraction:6.1%} {message}\n")
        self._drawn = True
        self._stream.flush()
