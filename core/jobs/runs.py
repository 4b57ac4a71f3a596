"""The ``runs`` table: one row per execution of a stage, and its event log."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import RunError
from core.project import Project
from core.store.db import utc_now

ACTIVE = ("pending", "running")
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


def create_run(project: Project, stage: str, config: dict[str, Any]) -> str:
    """Insert a pending run and return its id (``<stage>-<UTC time>-<random>``)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_id = f"{stage}-{stamp}-{secrets.token_hex(3)}"
    with project.store.transaction() as conn:
        conn.execute(
            "INSERT INTO runs (id, stage, config, status, created) VALUES (?, ?, ?, 'pending', ?)",
            (run_id, stage, json.dumps(config), utc_now()),
        )
        project.audit("run.create", {"run": run_id, "stage": stage})
    project.run_dir(run_id)
    return run_id


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
    """Close a run with its final status; audited in the same transaction."""
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
