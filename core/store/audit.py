"""The append-only audit log: a SHA-256 hash chain over every row (DESIGN §3).

Each row's hash covers its own fields and the previous row's hash, so editing, deleting or
inserting a row anywhere breaks the chain from that row on. Triggers refuse UPDATE and
DELETE; the chain catches whoever drops the triggers or edits the file directly.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.store.db import Store, utc_now

GENESIS_HASH = "0" * 64


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
    value = store.scalar("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")
    return str(value) if value else GENESIS_HASH


def verify(store: Store) -> AuditVerification:
    """Walk the chain from the first row; report the first row that does not fit."""
    prev, expected_id, checked = GENESIS_HASH, 1, 0
    cursor = store.conn.execute(
        "SELECT id, time, os_user, action, details, prev_hash, hash FROM audit ORDER BY id"
    )
    for row_id, when, user, action, details_json, prev_hash, digest in cursor:
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
