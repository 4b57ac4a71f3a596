"""Prediction logs into the project store: a server's log folder, or the JSON-lines file
``stillroom serve-log export`` wrote. Idempotent: a row is keyed by (bundle, request id,
item), a failed request by (bundle, request id, time), so importing the same log twice adds
nothing (``core.store.production``). A log from before failed requests were logged imports
as one without failures."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.monitor.config import MonitorError
from core.project import Project
from core.store import production
from core.store.production import LoggedError, LoggedRow

_BATCH = 2000


@dataclass(frozen=True, slots=True)
class Imported:
    read: int
    new: int
    updated: int


def _rows(source: Path) -> Iterator[dict[str, Any]]:
    """The log's rows as ``core.serve.predlog.rows`` gives them, then its failed requests
    (``error_rows``: an ``error`` field holds the kind)."""
    from core.serve.predlog import error_rows, log_files, rows

    if source.is_dir():
        if not log_files(source):
            raise MonitorError(
                f"no prediction log in {source}",
                "pass the folder `stillroom serve` printed as its prediction log",
            )
        yield from rows(source)
        yield from error_rows(source)
        return
    if source.suffix != ".jsonl":
        raise MonitorError(
            f"cannot read {source.name} as a prediction log",
            "pass the server's log folder, or a .jsonl file from `stillroom serve-log export`",
        )
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def logged_row(row: dict[str, Any]) -> LoggedRow:
    """One log row as the store keeps it (fingerprint back to its bytes)."""
    shadow = row.get("shadow") or {}
    kept = row.get("input") or {}
    text = kept.get("text")
    return LoggedRow(
        bundle_sha=str(row["bundle_sha"]),
        request_id=str(row["request_id"]),
        item=int(row["item"]),
        time=str(row["time"]),
        label=str(row["label"]),
        probabilities=json.dumps([float(p) for p in row["probabilities"]]),
        confidence=float(row["confidence"]),
        latency_ms=float(row["latency_ms"]),
        input_chars=int(row["input_chars"]),
        fingerprint=np.asarray(row["fingerprint"], dtype="<u2").tobytes(),
        shadow=bool(row["shadow"]),
        shadow_status=shadow.get("status"),
        teacher_label=shadow.get("label"),
        input_kind=kept.get("kind"),
        input_text=None if text is None else str(text).encode("utf-8"),
    )


def logged(row: dict[str, Any]) -> LoggedRow | LoggedError:
    """A prediction, or a failed request where the row has an ``error`` kind."""
    if row.get("error") is None:
        return logged_row(row)
    texts = row.get("texts")
    return LoggedError(
        bundle_sha=str(row["bundle_sha"]), request_id=str(row["request_id"]),
        time=str(row["time"]), status=int(row["status"]), kind=str(row["error"]),
        texts=None if texts is None else int(texts),
    )  # fmt: skip


def import_rows(
    project: Project, source: str, rows: Iterable[LoggedRow | LoggedError], run_id: str | None
) -> Imported:
    """Store rows (predictions and failed requests) under one import record, in batches
    (each one transaction)."""
    import_id = production.start_import(project.store, source, run_id)
    read = new = updated = 0
    batch: list[LoggedRow] = []
    failed: list[LoggedError] = []
    for row in rows:
        read += 1
        if isinstance(row, LoggedError):
            failed.append(row)
        else:
            batch.append(row)
        if len(batch) + len(failed) >= _BATCH:
            added, filled = production.add_rows(project.store, import_id, batch)
            added += production.add_errors(project.store, import_id, failed)
            new, updated, batch, failed = new + added, updated + filled, [], []
    if batch or failed:
        added, filled = production.add_rows(project.store, import_id, batch)
        added += production.add_errors(project.store, import_id, failed)
        new, updated = new + added, updated + filled
    production.finish_import(project.store, import_id, read=read, new=new, updated=updated)
    return Imported(read, new, updated)


def import_logs(project: Project, sources: Iterable[Path], run_id: str | None) -> Imported:
    """Import every log; the counts summed.

    Raises:
        MonitorError: a source is not a prediction log.
    """
    read = new = updated = 0
    for source in sources:
        path = Path(source).expanduser()
        if not path.exists():
            raise MonitorError(f"{path} does not exist", "pass the server's log folder or file")
        done = import_rows(project, str(path), (logged(r) for r in _rows(path)), run_id)
        read, new, updated = read + done.read, new + done.new, updated + done.updated
    project.audit("monitor.import", {"run": run_id, "read": read, "new": new, "updated": updated})
    return Imported(read, new, updated)
