"""Rendering a run's events in a terminal: a progress bar on a TTY, sparse lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from core.errors import UserError
from core.project import Project


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


def run_stage(project: Project, stage: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run one stage in this process under a new run, drawing its progress on stderr.

    Returns:
        The stage's result.

    Raises:
        StageBusyError: the stage is already running on the project (nothing was recorded).
        UserError: the stage failed on something the user can fix, or was cancelled.
    """
    from core.jobs.execute import execute_run
    from core.jobs.locks import stage_lock
    from core.jobs.runs import create_run

    with stage_lock(project, stage):  # before the run row exists: a refusal records nothing
        run_id = create_run(project, stage, config)
        outcome = execute_run(project, run_id, TerminalProgress())
    if outcome.error is not None:
        raise outcome.error
    if outcome.status == "cancelled":
        raise UserError(
            f"the {stage} run {run_id} was cancelled",
            "run the same command again to continue",
        )
    return outcome.result
