"""Run one stage under a ``runs`` row, in this process: the CLI calls this directly and the
worker process calls it with a JSON-lines sink.

Progress goes to the sink at most every ``interval`` seconds and to the events table at most
every few seconds, so a reopened project still shows how far a run got.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import InternalError, UserError
from core.jobs import protocol, runs, stages
from core.jobs.crashlog import write_crash_log
from core.jobs.locks import stage_lock
from core.project import Project
from core.reporter import StageCancelled
from core.store.db import utc_now

EventSink = Callable[[dict[str, Any]], None]

_OOM_HINT = (
    "lower the batch size or maximum length, turn on LoRA or gradient checkpointing, "
    "or close other programs using the memory"
)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: str
    status: str  # succeeded | cancelled | failed
    exit_code: int
    result: dict[str, Any] = field(default_factory=dict)
    error: UserError | None = None


class RunReporter:
    """The reporter a stage sees: forwards to a sink, logs to the store, watches for cancel."""

    def __init__(
        self,
        project: Project,
        run_id: str,
        sink: EventSink,
        *,
        interval: float = 0.2,
        store_interval: float = 2.0,
    ) -> None:
        self._project, self._run_id, self._sink = project, run_id, sink
        self._interval, self._store_interval = interval, store_interval
        self._last_sent = self._last_stored = 0.0
        self._cancel_file = protocol.cancel_path(project.run_dir(run_id))
        self.cancel_flag = False

    def emit(self, kind: str, payload: dict[str, Any], *, store: bool = True) -> None:
        self._sink({"run": self._run_id, "time": utc_now(), "kind": kind, **payload})
        if store:
            runs.add_event(self._project, self._run_id, kind, payload)

    def progress(self, fraction: float, message: str = "") -> None:
        now, final = time.monotonic(), fraction >= 1.0
        if not final and now - self._last_sent < self._interval:
            return
        self._last_sent = now
        to_store = final or now - self._last_stored >= self._store_interval
        if to_store:
            self._last_stored = now
        payload = {"fraction": round(min(max(fraction, 0.0), 1.0), 4), "message": message}
        self.emit("progress", payload, store=to_store)

    def metric(self, name: str, value: float, step: int | None = None) -> None:
        self.emit("metric", {"name": name, "value": value, "step": step}, store=False)

    def cancel_requested(self) -> bool:
        if not self.cancel_flag and self._cancel_file.exists():
            self.cancel_flag = True
        return self.cancel_flag


def execute_run(project: Project, run_id: str, sink: EventSink) -> RunOutcome:
    """Run (or resume) the stage of ``run_id`` to the end, recording everything.

    The stage's lock is held throughout: a second run of the same stage on the project,
    from any process, is refused before it does or records anything.

    Raises:
        RunError: the run is already running or has succeeded.
        StageBusyError: another process is running this stage on the project.
    """
    run = runs.get_run(project, run_id)
    with stage_lock(project, run.stage):
        run = runs.get_run(project, run_id)  # as it is now that nobody else can start it
        if run.status not in ("pending", *runs.RESUMABLE):
            raise UserError(
                f"run {run_id} is {run.status}; only pending or stopped runs can be started",
                "see `stillroom status DIR`",
            )
        return _execute(project, run, sink)


def _execute(project: Project, run: runs.RunRecord, sink: EventSink) -> RunOutcome:
    run_id = run.id
    function = stages.resolve(run.stage)
    resumed = run.status != "pending"
    protocol.cancel_path(project.run_dir(run_id)).unlink(missing_ok=True)
    runs.mark_running(project, run_id, os.getpid())
    reporter = RunReporter(project, run_id, sink)
    reporter.emit("started", {"stage": run.stage, "resumed": resumed, "pid": os.getpid()})
    try:
        result = function(project, run_id, run.config, reporter)
    except StageCancelled:
        return _finish(project, reporter, run_id, "cancelled", {"resumable": True})
    except UserError as exc:
        return _fail(project, reporter, run_id, exc, exc.exit_code)
    except Exception as exc:  # noqa: BLE001 — the worker's boundary: every crash is recorded
        if _is_out_of_memory(exc):
            error = UserError("the stage ran out of memory", _OOM_HINT)
            error.exit_code = protocol.EXIT_OUT_OF_MEMORY
            return _fail(project, reporter, run_id, error, error.exit_code, exc)
        log = write_crash_log(project.run_dir(run_id) / protocol.LOG_FILE, exc)
        error = InternalError(
            f"the {run.stage} stage stopped on an internal error ({type(exc).__name__})",
            f"the details are in {log}; the run can be resumed once the cause is fixed",
        )
        return _fail(project, reporter, run_id, error, error.exit_code, exc)
    return _finish(project, reporter, run_id, "succeeded", result)


def _finish(
    project: Project, reporter: RunReporter, run_id: str, status: str, result: dict[str, Any]
) -> RunOutcome:
    runs.mark_finished(project, run_id, status, result=result)
    reporter.emit("finished", {"status": status, "result": result})
    return RunOutcome(run_id, status, protocol.EXIT_OK, result)


def _fail(
    project: Project,
    reporter: RunReporter,
    run_id: str,
    error: UserError,
    exit_code: int,
    cause: BaseException | None = None,
) -> RunOutcome:
    error_class = type(cause or error).__name__
    runs.mark_finished(
        project, run_id, "failed", error_class=error_class, error_message=error.one_line()
    )
    payload = {"error_class": error_class, "message": error.message, "hint": error.hint}
    reporter.emit("error", payload)
    return RunOutcome(run_id, "failed", exit_code, error=error)


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"
