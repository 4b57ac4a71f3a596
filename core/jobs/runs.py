"""The ``runs`` table: one row per execution of a stage, its event log, and typed access to
its stored configs and results (paths resolved against the project's folder)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from core.configs import from_json, to_json
from core.errors import RunError
from core.jobs.registry import Stage
from core.project import Project
from core.store.db import utc_now

C = TypeVar("C")
R = TypeVar("R")

RESUMABLE = ("interrupted", "cancelled", "failed")


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    stage: str
    config: dict[str, Any]
    status: str
    pid: int | None
    created: str
    started: str | None
    finished: str | None
    error_class: str | None
    error_message: str | None
    result: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Finished(Generic[R]):
    """A succeeded run and its typed result."""

    run: RunRecord
    result: R


def create_run(project: Project, stage: Stage[C, Any], config: C) -> str:
    """Insert a pending run of ``stage`` with ``config`` and return its id.

    The id is ``<stage>-<UTC time>-<random>``; paths in the config inside the project are
    stored relative to it.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_id = f"{stage.key}-{stamp}-{secrets.token_hex(3)}"
    stored = json.dumps(to_json(config, project.path))
    with project.store.transaction() as conn:
        conn.execute(
            "INSERT INTO runs (id, stage, config, status, created) VALUES (?, ?, ?, 'pending', ?)",
            (run_id, stage.key, stored, utc_now()),
        )
        project.audit("run.create", {"run": run_id, "stage": stage.key})
    project.run_dir(run_id)
    return run_id


def start_run(project: Project, stage: Stage[C, Any], config: C, *, fresh: bool = False) -> str:
    """The run to execute ``config``: the newest stopped run of the stage with the same
    settings (so it resumes where it stopped), else a new one.

    Settings in ``stage.resume_ignores`` may differ; the stopped run then takes the new
    values (audited). ``fresh`` always starts a new run.
    """
    found = None if fresh else resumable_run(project, stage, config)
    if found is None:
        return create_run(project, stage, config)
    if to_json(config, project.path) != found.config:
        replace_config(project, stage, found.id, config, "resume options")
    return found.id


def resumable_run(project: Project, stage: Stage[C, Any], config: C) -> RunRecord | None:
    """The newest interrupted, cancelled or failed run of ``stage`` with ``config``'s
    settings, ignoring ``stage.resume_ignores``."""
    reconcile_runs(project)

    def comparable(values: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k not in stage.resume_ignores}

    wanted = comparable(to_json(config, project.path))
    for run in reversed(list_runs(project, stage.key)):
        if run.status in RESUMABLE and comparable(run.config) == wanted:
            return run
    return None


def replace_config(
    project: Project, stage: Stage[C, Any], run_id: str, config: C, reason: str
) -> None:
    """Store a new config for a stopped run (a resume override, an OOM retry); audited
    with the names of the settings that changed."""
    values = to_json(config, project.path)
    before = get_run(project, run_id).config
    changed = sorted(k for k in values if before.get(k) != values[k])
    with project.store.transaction() as conn:
        conn.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(values), run_id))
        project.audit(
            "run.config_change",
            {"run": run_id, "stage": stage.key, "reason": reason, "changed": changed},
        )


def run_config(project: Project, stage: Stage[C, Any], run: RunRecord) -> C:
    """A run's stored config as its stage's type (not validated).

    Raises:
        StoredDataError: the stored values do not make a config.
    """
    return from_json(stage.config, run.config, project.path)


def run_result(project: Project, stage: Stage[Any, R], run: RunRecord) -> R | None:
    """A succeeded run's stored result as its stage's type; None for other runs.

    Raises:
        StoredDataError: the stored values do not make a result.
    """
    if run.status != "succeeded" or run.result is None:
        return None
    return from_json(stage.result, run.result, project.path)


def latest(
    project: Project, stage: Stage[Any, R], where: Callable[[R], bool] | None = None
) -> Finished[R] | None:
    """The newest succeeded run of ``stage`` (whose result satisfies ``where``)."""
    for run in reversed(list_runs(project, stage.key)):
        result = run_result(project, stage, run)
        if result is not None and (where is None or where(result)):
            return Finished(run, result)
    return None


def latest_result(
    project: Project, stage: Stage[Any, R], where: Callable[[R], bool] | None = None
) -> R | None:
    """The result of the newest succeeded run of ``stage`` (satisfying ``where``), or None."""
    found = latest(project, stage, where)
    return None if found is None else found.result


def get_run(project: Project, run_id: str) -> RunRecord:
    """The run's row.

    Raises:
        RunError: no run has that id.
    """
    rows = project.store.query("SELECT * FROM runs WHERE id = ?", (run_id,))
    if not rows:
        raise RunError(f"no run {run_id!r} in this project", "see `stillroom status DIR`")
    return _record(rows[0])


def list_runs(project: Project, stage: str | None = None) -> list[RunRecord]:
    """All runs, oldest first, optionally of one stage."""
    if stage is None:
        rows = project.store.query("SELECT * FROM runs ORDER BY created, id")
    else:
        rows = project.store.query(
            "SELECT * FROM runs WHERE stage = ? ORDER BY created, id", (stage,)
        )
    return [_record(row) for row in rows]


def mark_running(project: Project, run_id: str, pid: int) -> None:
    with project.store.transaction() as conn:
        conn.execute(
            "UPDATE runs SET status = 'running', pid = ?, started = ?, finished = NULL, "
            "error_class = NULL, error_message = NULL WHERE id = ?",
            (pid, utc_now(), run_id),
        )


def mark_finished(
    project: Project,
    run_id: str,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error_class: str | None = None,
    error_message: str | None = None,
) -> None:
    """Close a run with its final status; audited in the same transaction.

    ``result`` is the stored (JSON) form: :func:`core.configs.to_json` of the stage's result.
    """
    with project.store.transaction() as conn:
        conn.execute(
            "UPDATE runs SET status = ?, finished = ?, result = ?, error_class = ?, "
            "error_message = ? WHERE id = ?",
            (
                status,
                utc_now(),
                None if result is None else json.dumps(result),
                error_class,
                error_message,
                run_id,
            ),
        )
        project.audit(f"run.{status}", {"run": run_id, "error_class": error_class})


def add_event(project: Project, run_id: str, kind: str, payload: dict[str, Any]) -> None:
    """Append one event to the run's log in the store."""
    with project.store.transaction() as conn:
        conn.execute(
            "INSERT INTO events (run_id, time, kind, payload) VALUES (?, ?, ?, ?)",
            (run_id, utc_now(), kind, json.dumps(payload)),
        )


def events(project: Project, run_id: str) -> list[dict[str, Any]]:
    """The run's stored events, oldest first."""
    rows = project.store.query(
        "SELECT time, kind, payload FROM events WHERE run_id = ? ORDER BY id", (run_id,)
    )
    return [{"time": r["time"], "kind": r["kind"], **json.loads(r["payload"])} for r in rows]


def reconcile_runs(project: Project) -> list[str]:
    """Mark runs whose process died (a kill, a crash, a power cut) as interrupted.

    Returns:
        The ids of the runs that were marked.
    """
    marked = []
    for run in list_runs(project):
        if run.status == "running" and not _alive(run.pid):
            with project.store.transaction() as conn:
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished = ? "
                    "WHERE id = ? AND status = 'running'",
                    (utc_now(), run.id),
                )
                project.audit("run.interrupted", {"run": run.id, "pid": run.pid})
            marked.append(run.id)
    return marked


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # No /proc (macOS, Windows): trust os.kill.


def _record(row: dict[str, Any]) -> RunRecord:
    return RunRecord(
        id=row["id"],
        stage=row["stage"],
        config=json.loads(row["config"]),
        status=row["status"],
        pid=row["pid"],
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        error_class=row["error_class"],
        error_message=row["error_message"],
        result=None if row["result"] is None else json.loads(row["result"]),
    )
