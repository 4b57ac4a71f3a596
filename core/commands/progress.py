"""Rendering a run's events in a terminal: a progress bar on a TTY, sparse lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any, TypeVar

from core.errors import StageCancelled, UserError
from core.project import Project

if TYPE_CHECKING:
    from core.jobs.registry import Stage

R = TypeVar("R")


class TerminalProgress:
    """An event sink for :func:`core.jobs.execute.execute_run` that draws progress on stderr.

    Nothing is drawn for work that finishes within ``delay_s`` (a small import): a bar that
    flashes for a moment only hides the result.
    """

    def __init__(
        self, stream: IO[str] | None = None, *, width: int = 30, delay_s: float = 0.75
    ) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._width, self._delay = width, delay_s
        self._started: float | None = None
        self._last_decile = -1
        self._drawn = False

    def __call__(self, event: dict[str, Any]) -> None:
        if event["kind"] != "progress":
            return
        now = time.monotonic()
        if self._started is None:
            self._started = now
        if not self._drawn and now - self._started < self._delay:
            return
        self._draw(float(event["fraction"]), str(event.get("message", "")))

    def _draw(self, fraction: float, message: str) -> None:
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


def run_stage(project: Project, stage: Stage[Any, R], config: Any) -> R:
    """Run one stage in this process, drawing its progress on stderr: a stopped run with the
    same settings resumes, otherwise a new run starts.

    Returns:
        The stage's typed result.

    Raises:
        StageBusyError: the stage is already running on the project (nothing was recorded).
        UserError: the stage failed on something the user can fix, or was cancelled.
    """
    from core.jobs import execute

    try:
        return execute.run_stage(project, stage, config, sink=TerminalProgress())
    except StageCancelled as exc:
        raise UserError(str(exc), "run the same command again to continue") from None
