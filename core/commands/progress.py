"""Rendering a run's events in a terminal: a progress bar on a TTY, sparse lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

from core.configs import to_json
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
        self.run_id: str | None = None  # the run whose events these are

    def __call__(self, event: dict[str, Any]) -> None:
        self.run_id = event.get("run", self.run_id)
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
    return _run(project, stage, config)[1]


def stage_output(
    project: Project, stage: Stage[Any, R], config: Any, render: Callable[[R], list[str]]
) -> dict[str, Any]:
    """Run one stage as :func:`run_stage` does and give a command's output: the run's id
    and its result (``--json``) and ``render``'s lines (people).

    Raises:
        StageBusyError: the stage is already running on the project (nothing was recorded).
        UserError: the stage failed on something the user can fix, or was cancelled.
    """
    run_id, result = _run(project, stage, config)
    return {"run_id": run_id, **to_json(result), "lines": render(result)}


def _run(project: Project, stage: Stage[Any, R], config: Any) -> tuple[str, R]:
    from core.jobs import execute

    progress = TerminalProgress()
    try:
        result = execute.run_stage(project, stage, config, sink=progress)
    except StageCancelled as exc:
        why = f" ({exc})" if str(exc) else ""
        raise UserError(
            f"the {stage.key} run {progress.run_id} was cancelled{why}",
            "run the same command again to continue",
        ) from None
    return str(progress.run_id), result
