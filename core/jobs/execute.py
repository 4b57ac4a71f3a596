"""The one run lifecycle (DESIGN §4-5): every stage runs under a ``runs`` row, here.

:func:`execute_run` runs (or resumes) one stored run in this process: the CLI calls it
directly, the worker process with a JSON-lines sink, and :func:`run_stage` — the in-process
entry for code and tests — after :func:`~core.jobs.runs.start_run` picked the run. The stage
function gets its typed config and a :class:`~core.jobs.registry.RunContext`; its typed
result is stored (paths relative to the project) and returned.

Progress goes to the sink at most every ``interval`` seconds and to the events table at most
every few seconds, so a reopened project still shows how far a run got.
"""

from __future__ import annotations

import os
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.configs import from_json, to_json
from core.errors import InternalError, UserError
from core.jobs import protocol, runs
from core.jobs.crashlog import write_crash_log
from core.jobs.locks import stage_lock
from core.jobs.memory import OUT_OF_MEMORY_HINT, is_out_of_memory
from core.jobs.registry import RunContext, Stage, stage
from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.store.db import utc_now

R = TypeVar("R")
EventSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class RunOutcome(Generic[R]):
    """How a run ended: ``succeeded`` (with its result), ``cancelled`` or ``failed``."""

    run_id: str
    status: str
    exit_code: int
    result: R | None = None
    error: UserError | None = None
    cancel: StageCancelled | None = None  # what the stage said when it stopped on request


class RunReporter:
    """The reporter a stage sees: forwards to a sink (and an optional caller's reporter),
    logs to the store, watches the cancel file."""

    def __init__(
        self,
        project: Project,
        run_id: str,
        sink: EventSink,
        *,
        inner: Reporter | None = None,
        interval: float = 0.2,
        store_interval: float = 2.0,
    ) -> None:
        self._project, self._run_id, self._sink, self._inner = project, run_id, sink, inner
        self._interval, self._store_interval = interval, store_interval
        self._last_sent = self._last_stored = 0.0
        self._cancel_file = protocol.cancel_path(project.run_dir(run_id))
        self.cancel_flag = False

    def emit(self, kind: str, payload: dict[str, Any], *, store: bool = True) -> None:
        self._sink({"run": self._run_id, "time": utc_now(), "kind": kind, **payload})
        if store:
            runs.add_event(self._project, self._run_id, kind, payload)

    def progress(self, fraction: float, message: str = "") -> None:
        if self._inner is not None:
            self._inner.progress(fraction, message)
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
        if self._inner is not None:
            self._inner.metric(name, value, step)
        self.emit("metric", {"name": name, "value": value, "step": step}, store=False)

    def cancel_requested(self) -> bool:
        if not self.cancel_flag and (
            self._cancel_file.exists()
            or (self._inner is not None and self._inner.cancel_requested())
        ):
            self.cancel_flag = True
        return self.cancel_flag


def execute_run(
    project: Project,
    run_id: str,
    sink: EventSink | None = None,
    *,
    reporter: Reporter | None = None,
    options: dict[str, Any] | None = None,
) -> RunOutcome[Any]:
    """Run (or resume) the stage of ``run_id`` to the end, recording everything.

    The stage's lock is held throughout: a second run of the same stage on the project,
    from any process, is refused before it does or records anything.

    Args:
        project: the open project.
        run_id: a pending or stopped run.
        sink: receives every event (the worker writes them as JSON lines).
        reporter: also receives progress and metrics, and may ask to cancel (tests, code).
        options: extra keyword arguments for the stage function (tests inject failures
            into training through ``callbacks``).

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
        return _execute(project, run, sink or _ignore, reporter, options or {})


def run_stage(
    project: Project,
    stage_: Stage[Any, R],
    config: Any,
    *,
    reporter: Reporter | None = None,
    sink: EventSink | None = None,
    fresh: bool = False,
    **options: Any,
) -> R:
    """Run a stage in this process: resume a stopped run with the same settings, or start one.

    ``options`` go to the stage function as they are (see :func:`execute_run`).

    Returns:
        The stage's result.

    Raises:
        StageCancelled: the reporter (or a cancel request) stopped it (the stage's own
            exception, such as ImportCancelled); it can resume.
        UserError: what the stage raised for the user to fix (an internal error is an
            :class:`~core.errors.InternalError`), with the exit code to use.
    """
    with stage_lock(project, stage_.key):  # before the run row exists: a refusal records nothing
        run_id = runs.start_run(project, stage_, config, fresh=fresh)
        outcome = execute_run(project, run_id, sink, reporter=reporter, options=options)
    if outcome.error is not None:
        raise outcome.error
    if outcome.status == "cancelled":
        raise outcome.cancel or StageCancelled(f"the {stage_.key} run {run_id} was cancelled")
    return typing.cast(R, outcome.result)


def _ignore(event: dict[str, Any]) -> None:
    return None


def _execute(
    project: Project,
    run: runs.RunRecord,
    sink: EventSink,
    inner: Reporter | None,
    options: dict[str, Any],
) -> RunOutcome[Any]:
    run_id, descriptor = run.id, stage(run.stage)
    resumed = run.status != "pending"
    protocol.cancel_path(project.run_dir(run_id)).unlink(missing_ok=True)
    runs.mark_running(project, run_id, os.getpid())
    reporter = RunReporter(project, run_id, sink, inner=inner)
    reporter.emit("started", {"stage": run.stage, "resumed": resumed, "pid": os.getpid()})
    context = RunContext(run_id, project.run_dir(run_id), resumed)
    try:
        config = load_config(project, descriptor, run.config)
        function = descriptor.function()
        result = function(project, config, run=context, reporter=reporter, **options)
    except StageCancelled as exc:
        runs.mark_finished(project, run_id, "cancelled", result={"resumable": True})
        reporter.emit("finished", {"status": "cancelled", "result": {"resumable": True}})
        return RunOutcome(run_id, "cancelled", protocol.EXIT_OK, cancel=exc)
    except UserError as exc:
        return _fail(project, reporter, run_id, exc)
    except Exception as exc:  # noqa: BLE001 — the worker's boundary: every crash is recorded
        return _fail(project, reporter, run_id, _crash_error(project, run, exc), exc)
    stored = to_json(result, project.path)
    runs.mark_finished(project, run_id, "succeeded", result=stored)
    reporter.emit("finished", {"status": "succeeded", "result": stored})
    return RunOutcome(run_id, "succeeded", protocol.EXIT_OK, result)


def load_config(project: Project, descriptor: Stage[Any, Any], values: dict[str, Any]) -> Any:
    """A run's stored config as its stage's type, checked.

    Raises:
        StoredDataError: the stored values do not make a config.
        UserError: the config's own ``validate`` refuses a value.
    """
    config = from_json(descriptor.config, values, project.path)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def _crash_error(project: Project, run: runs.RunRecord, exc: Exception) -> UserError:
    if is_out_of_memory(exc):
        error = UserError("the stage ran out of memory", OUT_OF_MEMORY_HINT)
        error.exit_code = protocol.EXIT_OUT_OF_MEMORY
        return error
    log = write_crash_log(project.run_dir(run.id) / protocol.LOG_FILE, exc)
    return InternalError(
        f"the {run.stage} stage stopped on an internal error ({type(exc).__name__})",
        f"the details are in {log}; the run can be resumed once the cause is fixed",
    )


def _fail(
    project: Project,
    reporter: RunReporter,
    run_id: str,
    error: UserError,
    cause: BaseException | None = None,
) -> RunOutcome[Any]:
    error_class = type(cause or error).__name__
    runs.mark_finished(
        project, run_id, "failed", error_class=error_class, error_message=error.one_line()
    )
    payload = {"error_class": error_class, "message": error.message, "hint": error.hint}
    reporter.emit("error", payload)
    return RunOutcome(run_id, "failed", error.exit_code, error=error)
