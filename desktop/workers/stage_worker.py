"""One stage run in the worker process (DESIGN §5), seen from the window through QProcess.

The worker writes JSON-line events on stdout; they become Qt signals here. The outcome
signal (``succeeded``, ``cancelled`` or ``failed``) is emitted only once the process has
exited, so a slot that reads the store sees everything the worker wrote; ``finished``
always comes last.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QIODevice, QObject, QProcess, QTimer, Signal

from core.errors import UserError
from core.jobs import protocol
from core.jobs.registry import Stage
from core.project import Project

_DIED = (
    "the background process stopped unexpectedly",
    "the system may have stopped it (for example when memory ran out); the run can be "
    "resumed from its last checkpoint",
)


class StageWorker(QObject):
    """Runs one stage of one project in a worker process and reports it as signals."""

    started = Signal(str)
    progress = Signal(float, str)
    metric = Signal(str, float, int)
    succeeded = Signal(object)  # the stage's typed result
    cancelled = Signal()
    failed = Signal(dict)
    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_id: str | None = None
        self.stage: Stage[Any, Any] | None = None
        self.project_dir: Path | None = None
        self.run_dir: Path | None = None
        self.outcome: str | None = None  # succeeded | cancelled | failed, once finished
        self.result: Any = None
        self.error: dict[str, Any] | None = None
        self._process: QProcess | None = None
        self._buffer = b""
        self._terminal: dict[str, Any] | None = None  # the worker's finished/error event
        self._cancels = 0
        self._running = False

    # -- control ---------------------------------------------------------------------------

    def start(
        self, project_dir: Path, stage: Stage[Any, Any], config: Any, *, run_id: str | None = None
    ) -> str:
        """Create a run of ``stage`` with ``config`` (or resume ``run_id``, whose stage and
        stored config are used) and start its worker; returns the run id.

        Raises:
            RunError: ``run_id`` is not a run of this project, or one is running already.
            StageBusyError: another process (a terminal, another window) runs the stage.
            UserError: the project cannot be opened.
        """
        if self._running:
            raise UserError("this job is still running", "wait for it or cancel it first")
        from core.jobs.locks import ensure_stage_free
        from core.jobs.registry import stage as stage_called
        from core.jobs.runs import create_run, get_run

        self.project_dir = Path(project_dir)
        with Project.open(self.project_dir) as project:
            if run_id is not None:
                stage = stage_called(get_run(project, run_id).stage)
            # The worker takes the stage's lock; refusing here as well leaves no run behind.
            ensure_stage_free(project, stage.key)
            if run_id is None:
                run_id = create_run(project, stage, config)
            self.run_dir = project.run_dir(run_id)
        self.run_id, self.stage = run_id, stage
        self._reset()
        self._launch()
        return run_id

    def cancel(self) -> None:
        """First call: ask the worker to stop cleanly (it checkpoints, then exits).
        Second call: kill it; the run stays resumable from its last checkpoint."""
        if not self._running or self._process is None or self.run_dir is None:
            return
        self._cancels += 1
        if self._cancels == 1:
            protocol.request_cancel(self.run_dir)
        else:
            self._process.kill()

    def is_running(self) -> bool:
        return self._running

    def process_id(self) -> int | None:
        """The worker's process id while it runs."""
        if self._process is None or not self._running:
            return None
        return int(self._process.processId()) or None

    def cancel_requested(self) -> bool:
        """True once :meth:`cancel` was called for the current run."""
        return self._cancels > 0

    def wait_finished(self, msecs: int) -> bool:
        """Spin the event loop until the run finished or ``msecs`` passed; True if finished."""
        if not self._running:
            return True
        loop = QEventLoop()
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        self.finished.connect(loop.quit)
        timer.start(msecs)
        if self._running:
            loop.exec()
        timer.stop()
        self.finished.disconnect(loop.quit)
        return not self._running

    def log_path(self) -> Path | None:
        """The run's crash log if the worker wrote one, else its stderr capture."""
        if self.run_dir is None:
            return None
        for name in (protocol.LOG_FILE, "worker.stderr"):
            path = self.run_dir / name
            if path.is_file():
                return path
        return None

    # -- the process -----------------------------------------------------------------------

    def _reset(self) -> None:
        self.outcome = None
        self.result = self.error = self._terminal = None
        self._buffer = b""
        self._cancels = 0

    def _launch(self) -> None:
        from core.jobs.worker import worker_command

        assert self.project_dir is not None
        assert self.run_id is not None
        assert self.run_dir is not None
        program, *arguments = worker_command(self.project_dir, self.run_id)
        process = QProcess(self)
        # stderr to a file: a chatty library must never fill a pipe nobody reads.
        process.setStandardErrorFile(
            str(self.run_dir / "worker.stderr"), QIODevice.OpenModeFlag.Append
        )
        process.setStandardInputFile(QProcess.nullDevice())
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.started.connect(self._on_started)
        process.finished.connect(self._on_exit)
        process.errorOccurred.connect(self._on_process_error)
        self._process = process
        self._running = True
        process.start(program, arguments)

    def _on_started(self) -> None:
        if self.run_id is not None:
            self.started.emit(self.run_id)

    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            event = protocol.decode(line)
            if event is not None:
                self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["kind"]
        if kind == "progress":
            self.progress.emit(float(event.get("fraction", 0.0)), str(event.get("message", "")))
        elif kind == "metric":
            step = event.get("step")
            value = event.get("value")
            if isinstance(value, int | float):
                self.metric.emit(str(event["name"]), float(value), -1 if step is None else step)
        elif kind in ("finished", "error"):
            self._terminal = event

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._running:
            failure = {
                "error_class": "WorkerFailedToStart",
                "message": "the background process could not be started",
                "hint": "check that Stillroom is installed completely, then try again",
                "log": None,
                "exit_code": -1,
                "user_error": False,
            }
            self._conclude("failed", failure)

    def _on_exit(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if not self._running:
            return
        self._read_stdout()
        if self._buffer.strip():
            self._buffer += b"\n"
            self._read_stdout()
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        terminal = self._terminal or {}
        if terminal.get("kind") == "finished" and not crashed:
            if terminal.get("status") == "succeeded":
                self._succeed(dict(terminal.get("result") or {}))
            else:
                self._conclude("cancelled", None)
            return
        self._mark_interrupted()
        if crashed and self._cancels >= 2:
            self._conclude("cancelled", None)  # the user's force stop
            return
        self._conclude("failed", self._failure(terminal, -1 if crashed else exit_code))

    def _failure(self, terminal: dict[str, Any], exit_code: int) -> dict[str, Any]:
        log = self.log_path()
        if terminal.get("kind") == "error":
            # A failed check (1), bad input (2) or out of memory (3) is shown on the page;
            # an internal error (4) or an unknown code gets the error dialog with the log.
            user_error = exit_code in (
                protocol.EXIT_CHECK_FAILED,
                protocol.EXIT_USER_ERROR,
                protocol.EXIT_OUT_OF_MEMORY,
            )
            return {
                "error_class": str(terminal.get("error_class", "")),
                "message": str(terminal.get("message", "")),
                "hint": str(terminal.get("hint", "")),
                "log": None if log is None else str(log),
                "exit_code": exit_code,
                "user_error": user_error,
            }
        message, hint = _DIED
        return {
            "error_class": "WorkerDied",
            "message": message,
            "hint": hint,
            "log": None if log is None else str(log),
            "exit_code": exit_code,
            "user_error": False,
        }

    def _mark_interrupted(self) -> None:
        """A worker that died without closing its run leaves it 'running': mark it
        interrupted now, so the sidebar offers to resume it."""
        from core.jobs.runs import reconcile_runs

        if self.project_dir is None:
            return
        try:
            with Project.open(self.project_dir) as project:
                reconcile_runs(project)
        except UserError:
            pass  # the next open of the project reconciles it

    def _succeed(self, stored: dict[str, Any]) -> None:
        """Conclude with the stored result back in its type (paths resolved against the
        project). A result that does not rebuild (a bug) is not announced; the run still
        succeeded and the pages read the store when ``finished`` is emitted."""
        from core.configs import from_json

        assert self.stage is not None
        try:
            result = from_json(self.stage.result, stored, self.project_dir)
        except UserError:
            result = None
        self._conclude("succeeded", result)

    def _conclude(self, outcome: str, payload: Any) -> None:
        self._running = False
        self.outcome = outcome
        if outcome == "succeeded":
            self.result = payload
            if payload is not None:
                self.succeeded.emit(payload)
        elif outcome == "cancelled":
            self.cancelled.emit()
        else:
            self.error = payload
            self.failed.emit(payload or {})
        self.finished.emit()
