"""The append-only audit log: a SHA-256 hash chain over every row (DESIGN §3).

Each row's hash covers its own fields and the previous row's hash, so editing, deleting or
inserting a row anywhere breaks the chain from that row on. Triggers refuse UPDATE and
DELETE; the chain catches whoever drops the triggers or edits the file directly.

What the chain cannot see from inside is its own end: deleting the newest rows, or
rewriting every row and recomputing every hash, leaves a chain that verifies. That needs an
anchor kept outside the project: a head hash recorded elsewhere (every bundle's signed
manifest records the head at export; :func:`find_head`), or an export of the rows to
write-once storage (:func:`write_export`, :func:`check_against`).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import AuditExportError
from core.store.db import Store, utc_now

GENESIS_HASH = "0" * 64
FIELDS = ("id", "time", "os_user", "action", "details", "prev_hash", "hash")
"""An exported row's keys: the stored values exactly (``details`` as its stored JSON text)."""
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    time: str
    os_user: str
    action: str
    details: dict[str, Any]
    hash: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    ok: bool
    rows_checked: int
    head_hash: str
    first_broken_id: int | None = None
    reason: str = ""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed and stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def os_user() -> str:
    """The operating-system user running Stillroom, for the audit trail."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def row_hash(row_id: int, time: str, user: str, action: str, details_json: str, prev: str) -> str:
    """The chain hash of one row, over exactly the stored strings."""
    payload = canonical_json([row_id, time, user, action, details_json, prev])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(store: Store, action: str, details: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry; joins the caller's transaction if there is one.

    ``details`` must hold counts, ids, paths and settings, never row contents.
    """
    details = details or {}
    details_json = canonical_json(details)
    with store.transaction() as conn:
        last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        row_id, prev = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
        when, user = utc_now(), os_user()
        digest = row_hash(row_id, when, user, action, details_json, prev)
        conn.execute(
            "INSERT INTO audit (id, time, os_user, action, details, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row_id, when, user, action, details_json, prev, digest),
        )
    return AuditEntry(row_id, when, user, action, details, digest)


def head(store: Store) -> str:
    """The hash of the newest entry (the chain head), or the genesis hash."""
    return head_with_row(store)[1]


def head_with_row(store: Store) -> tuple[int, str]:
    """The newest entry's id and hash, read together; ``(0, GENESIS_HASH)`` when empty."""
    row = store.conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def verify(store: Store) -> AuditVerification:
    """Walk the chain from the first row; report the first row that does not fit."""
    cursor = store.conn.execute(f"SELECT {', '.join(FIELDS)} FROM audit ORDER BY id")
    return _walk(cursor)


def _walk(rows: Iterable[tuple[Any, ...]]) -> AuditVerification:
    """The chain check over ``(id, time, os_user, action, details, prev_hash, hash)`` rows."""
    prev, expected_id, checked = GENESIS_HASH, 1, 0
    for row_id, when, user, action, details_json, prev_hash, digest in rows:
        reason = ""
        if row_id != expected_id:
            reason = f"row ids jump from {expected_id - 1} to {row_id}: rows were deleted"
        elif prev_hash != prev:
            reason = "its prev_hash does not match the row before it"
        elif row_hash(row_id, when, user, action, details_json, prev_hash) != digest:
            reason = "its contents do not match its hash: the row was edited"
        if reason:
            return AuditVerification(False, checked, prev, row_id, reason)
        prev, expected_id, checked = digest, row_id + 1, checked + 1
    return AuditVerification(True, checked, prev)


def entries(store: Store, limit: int = 50) -> list[AuditEntry]:
    """The newest ``limit`` entries, oldest first."""
    rows = store.conn.execute(
        "SELECT id, time, os_user, action, details, hash FROM audit ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in reversed(rows)]


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """The chain against an anchor kept outside the project (a head hash, an export)."""

    ok: bool
    rows_checked: int
    reason: str = ""
    row: int | None = None  # the row that holds the head, or the first that differs


def is_hash(value: str) -> bool:
    """Whether ``value`` looks like a chain hash (64 lowercase hex digits)."""
    return bool(_HASH.match(value))


def find_head(store: Store, head_hash: str) -> AnchorCheck:
    """Whether the chain still holds a head recorded earlier (in a bundle, a ticket, …).

    With an intact chain this proves every row up to that head is unchanged: each hash
    covers all the rows before it.
    """
    if head_hash == GENESIS_HASH:
        return AnchorCheck(True, 0, row=0)
    row = store.scalar("SELECT id FROM audit WHERE hash = ?", (head_hash,))
    if row is None:
        return AnchorCheck(
            False,
            0,
            f"the chain does not contain the head {head_hash}: it was truncated or rewritten "
            "since that head was recorded",
        )
    return AnchorCheck(True, int(row), row=int(row))


def export_rows(store: Store) -> Iterator[dict[str, Any]]:
    """Every row as stored, oldest first (``details`` holds ids and counts, never text)."""
    cursor = store.conn.execute(f"SELECT {', '.join(FIELDS)} FROM audit ORDER BY id")
    for values in cursor:
        yield dict(zip(FIELDS, values, strict=True))


def write_export(store: Store, out: Path, *, force: bool = False) -> tuple[int, str]:
    """Write the chain to ``out`` as JSON lines (one row each, mode 0600), atomically.

    Returns:
        The number of rows and the head hash written.

    Raises:
        AuditExportError: ``out`` exists and ``force`` is off, or it cannot be written.
    """
    if (out.exists() or out.is_symlink()) and not force:
        raise AuditExportError(f"{out} already exists", "choose another --out, or pass --force")
    count, last = 0, GENESIS_HASH
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for row in export_rows(store):
                    handle.write(canonical_json(row) + "\n")
                    count, last = count + 1, str(row["hash"])
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(scratch, out)
        finally:
            Path(scratch).unlink(missing_ok=True)
    except OSError as exc:
        raise AuditExportError(f"cannot write {out} ({exc.strerror})") from exc
    return count, last


def read_export(path: Path) -> list[dict[str, Any]]:
    """The rows of an export, checked to be a complete, intact chain on their own.

    Raises:
        AuditExportError: the file cannot be read, or is not an intact exported chain.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditExportError(f"cannot read the audit export {path}") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not (isinstance(row, dict) and set(row) == set(FIELDS)):
            raise AuditExportError(
                f"{path} line {number} is not an exported audit row",
                "pass a file `stillroom audit export` wrote",
            )
        rows.append(row)
    walked = _walk(tuple(r[f] for f in FIELDS) for r in rows)
    if not walked.ok or not rows:
        raise AuditExportError(
            f"{path} is not an intact audit chain ({walked.reason or 'it is empty'})",
            "it was damaged or edited; use the copy from write-once storage",
        )
    return rows


def check_against(store: Store, exported: Iterable[dict[str, Any]]) -> AnchorCheck:
    """Whether every exported row is still in the chain, unchanged."""
    checked = 0
    for row in exported:
        found = store.conn.execute(
            f"SELECT {', '.join(FIELDS)} FROM audit WHERE id = ?", (row["id"],)
        ).fetchone()
        if found is None:
            return AnchorCheck(
                False, checked, f"row {row['id']} of the export is missing: the chain was "
                "truncated since the export", row["id"],
            )  # fmt: skip
        changed = [f for f, value in zip(FIELDS, found, strict=True) if row[f] != value]
        if changed:
            return AnchorCheck(
                False, checked, f"row {row['id']} differs from the export "
                f"({', '.join(changed)}): the chain was rewritten since the export", row["id"],
            )  # fmt: skip
        checked += 1
    return AnchorCheck(True, checked)


def run_creators(store: Store) -> dict[str, str]:
    """The OS user who created each run (``run.create`` rows)."""
    rows = store.conn.execute(
        "SELECT json_extract(details, '$.run'), os_user FROM audit WHERE action = 'run.create'"
    )
    return {str(run): str(user) for run, user in rows}
