"""The prediction log: one SQLite file (WAL) per period, append-only, written by one thread.

This is the serve package's only store module (its SQL lives here). Tables:
``predictions`` (one row per text answered: time, request id, item, bundle SHA, label,
probabilities, confidence, latency, input length, fingerprint, whether the shadow sampled
it), ``shadow`` (the teacher's answer to a sampled one, appended when it arrives),
``inputs`` (only with ``--keep-inputs``: anonymized text, or raw text encrypted with
Fernet), ``errors`` (one row per request refused or failed: time, request id, bundle SHA,
HTTP status, a fixed error kind such as ``bad_request`` or ``model_error``, and how many
texts it held where that is known; never the request's text nor the error's message, which
may quote it) and ``meta`` (bundle, labels, fingerprint version). A log written before the
``errors`` table existed reads as one without errors.

Crash safety: rows are appended in transactions of up to :data:`_GROUP` rows, at most
:data:`_FLUSH_S` after they were queued (before the request's answer is sent, the row is
queued). WAL with ``synchronous=NORMAL``: a killed process loses at most the rows not yet
committed and never leaves a torn one (SQLite's journal); a power cut may also lose the
last committed ones. Rotation: past ``rotate_bytes`` the file is closed and renamed
``predictions-<UTC time>.db`` and a new one begun; past ``max_bytes`` in all, the oldest
closed files are deleted (counted in ``deleted_files``).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CURRENT = "predictions.db"
_GROUP = 512
_FLUSH_S = 0.05
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS predictions (id INTEGER PRIMARY KEY, time TEXT NOT NULL, "
    "request_id TEXT NOT NULL, item INTEGER NOT NULL, bundle_sha TEXT NOT NULL, "
    "label TEXT NOT NULL, probabilities TEXT NOT NULL, confidence REAL NOT NULL, "
    "latency_ms REAL NOT NULL, input_chars INTEGER NOT NULL, fingerprint BLOB NOT NULL, "
    "shadow INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS shadow (id INTEGER PRIMARY KEY, time TEXT NOT NULL, "
    "request_id TEXT NOT NULL, item INTEGER NOT NULL, status TEXT NOT NULL, "
    "teacher_label TEXT, teacher_probabilities TEXT, latency_ms REAL, agrees INTEGER)",
    "CREATE TABLE IF NOT EXISTS inputs (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, "
    "item INTEGER NOT NULL, kind TEXT NOT NULL, text BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS errors (id INTEGER PRIMARY KEY, time TEXT NOT NULL, "
    "request_id TEXT NOT NULL, bundle_sha TEXT NOT NULL, status INTEGER NOT NULL, "
    "kind TEXT NOT NULL, texts INTEGER)",
)
# The error kinds a log row may carry (a fixed set: a kind is never free text).
ERROR_KINDS = ("bad_request", "too_large", "model_error")
_INSERT = {
    "predictions": "INSERT INTO predictions (time, request_id, item, bundle_sha, label, "
    "probabilities, confidence, latency_ms, input_chars, fingerprint, shadow) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "shadow": "INSERT INTO shadow (time, request_id, item, status, teacher_label, "
    "teacher_probabilities, latency_ms, agrees) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "inputs": "INSERT INTO inputs (request_id, item, kind, text) VALUES (?, ?, ?, ?)",
    "errors": "INSERT INTO errors (time, request_id, bundle_sha, status, kind, texts) "
    "VALUES (?, ?, ?, ?, ?, ?)",
}


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def open_log_file(path: Path, meta: dict[str, str] | None = None) -> sqlite3.Connection:
    """Open (creating owner-only) one log file in WAL mode with its tables."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in _SCHEMA:
        conn.execute(statement)
    if meta:
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(meta.items())
        )
    return conn


@dataclass
class LogCounts:
    rows: int = 0
    rotations: int = 0
    deleted_files: int = 0


class PredictionLog:
    """Appends rows from any thread; one writer thread commits them in groups."""

    def __init__(
        self, folder: Path, meta: dict[str, str], *, rotate_bytes: int, max_bytes: int
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._meta = meta
        self._rotate, self._max = rotate_bytes, max_bytes
        self._queue: queue.SimpleQueue[tuple[str, tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._conn = open_log_file(folder / CURRENT, meta)
        self.counts = LogCounts()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, table: str, row: tuple[Any, ...]) -> None:
        """Queue one row for ``table`` (``predictions``, ``shadow``, ``inputs`` or
        ``errors``)."""
        self._queue.put((table, row))

    def close(self) -> None:
        """Commit everything queued, then close the file."""
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            batch, stop = ([], True) if first is None else ([first], False)
            deadline = time.monotonic() + _FLUSH_S
            while not stop and len(batch) < _GROUP:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                for table, row in batch:
                    self._conn.execute(_INSERT[table], row)
        except sqlite3.Error as exc:  # a full disk must not stop the server answering
            sys.stderr.write(f"stillroom serve: prediction log write failed ({exc})\n")
            return
        self.counts.rows += sum(table == "predictions" for table, _ in batch)
        self._maybe_rotate()

    def _maybe_rotate(self) -> None:
        current = self.folder / CURRENT
        size = sum(_size(Path(f"{current}{s}")) for s in ("", "-wal"))
        if size < self._rotate:
            return
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        current.rename(self.folder / f"predictions-{stamp}.db")
        Path(f"{current}-wal").unlink(missing_ok=True)
        Path(f"{current}-shm").unlink(missing_ok=True)
        self._conn = open_log_file(current, self._meta)
        self.counts.rotations += 1
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        closed = sorted(self.folder.glob("predictions-*.db"))
        total = sum(_size(p) for p in closed) + _size(self.folder / CURRENT)
        while closed and total > self._max:
            oldest = closed.pop(0)
            total -= _size(oldest)
            oldest.unlink(missing_ok=True)
            self.counts.deleted_files += 1
            sys.stderr.write(
                f"stillroom serve: deleted the oldest prediction log {oldest.name} "
                "(the folder reached --log-max-mb)\n"
            )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_files(folder: Path) -> list[Path]:
    """The log's files, oldest first (closed ones by name, then the current one)."""
    closed = sorted(folder.glob("predictions-*.db"))
    current = folder / CURRENT
    return [*closed, current] if current.is_file() else closed


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A log file opened for reading while a server may still be writing it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Every prediction of the log folder, oldest first, with its shadow answer (if any)
    and its kept input (if any); fingerprints as lists of counts."""
    from core.serve.fingerprint import decode

    for path in log_files(folder):
        with read_only(path) as conn:
            conn.row_factory = sqlite3.Row
            shadows = {
                (r["request_id"], r["item"]): dict(r)
                for r in conn.execute("SELECT * FROM shadow ORDER BY id")
            }
            kept = {
                (r["request_id"], r["item"]): (r["kind"], r["text"])
                for r in conn.execute("SELECT * FROM inputs ORDER BY id")
            }
            for r in conn.execute("SELECT * FROM predictions ORDER BY id"):
                row = dict(r)
                row["probabilities"] = json.loads(row["probabilities"])
                row["fingerprint"] = decode(row["fingerprint"]).tolist()
                row["shadow"] = _shadow(shadows.get((row["request_id"], row["item"])))
                row["input"] = _kept(kept.get((row["request_id"], row["item"])))
                row["log_file"] = path.name
                yield row


def error_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Every refused or failed request of the log folder, oldest first (none from a log
    written before the ``errors`` table existed)."""
    for path in log_files(folder):
        with read_only(path) as conn:
            conn.row_factory = sqlite3.Row
            known = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'errors'"
            ).fetchone()
            if known is None:
                continue
            for r in conn.execute("SELECT * FROM errors ORDER BY id"):
                row = dict(r)
                row.pop("id")
                row["error"] = row.pop("kind")
                row["log_file"] = path.name
                yield row


def _shadow(found: dict[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    probabilities = found["teacher_probabilities"]
    return {
        "status": found["status"],
        "label": found["teacher_label"],
        "probabilities": None if probabilities is None else json.loads(probabilities),
        "latency_ms": found["latency_ms"],
        "agrees": None if found["agrees"] is None else bool(found["agrees"]),
    }


def _kept(found: tuple[str, bytes] | None) -> dict[str, str] | None:
    if found is None:
        return None
    kind, text = found
    value = text.decode("utf-8") if isinstance(text, bytes) else str(text)
    return {"kind": kind, "text": value}


def meta(folder: Path) -> dict[str, str]:
    """The meta table of the newest log file (bundle, labels, fingerprint version)."""
    files = log_files(folder)
    if not files:
        return {}
    with read_only(files[-1]) as conn:
        return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
