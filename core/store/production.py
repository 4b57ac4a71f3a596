"""The ``production`` and ``production_imports`` tables (schema migration 3): the traffic a
served bundle answered, imported from its prediction logs by the monitor (DESIGN §11); and
``production_errors`` (migration 4): the requests it refused or failed on, for the error rate.

A row is one text a server answered, keyed by (bundle, request id, item), so re-importing a
log adds nothing; a shadow answer or a kept input that arrived after an earlier import fills
its row's empty columns. Text is there only when the server kept it: anonymized text, or a
Fernet token that only the server's key opens. Re-distillation turns chosen rows into
``records`` (a dataset of their own) and remembers which row became which record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from core.store.db import Store, utc_now

_COLUMNS = (
    "bundle_sha", "request_id", "item", "time", "label", "probabilities", "confidence",
    "latency_ms", "input_chars", "fingerprint", "shadow", "shadow_status", "teacher_label",
    "input_kind", "input_text",
)  # fmt: skip
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class LoggedRow:
    """One logged prediction as it is stored (``probabilities``: JSON text)."""

    bundle_sha: str
    request_id: str
    item: int
    time: str
    label: str
    probabilities: str
    confidence: float
    latency_ms: float
    input_chars: int
    fingerprint: bytes
    shadow: bool
    shadow_status: str | None
    teacher_label: str | None
    input_kind: str | None
    input_text: bytes | None


@dataclass(frozen=True, slots=True)
class ProductionRow:
    """One stored prediction as the monitor reads it: no text, only whether there is one."""

    id: int
    time: str
    label: str
    probabilities: str
    confidence: float
    input_chars: int
    fingerprint: bytes
    shadow: bool
    shadow_status: str | None
    teacher_label: str | None
    input_kind: str | None
    used_as: str | None
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class LoggedError:
    """One refused or failed request: a fixed kind and the status, never text."""

    bundle_sha: str
    request_id: str
    time: str
    status: int
    kind: str
    texts: int | None


def start_import(store: Store, source: str, run_id: str | None) -> int:
    """A new import's row (counts filled by :func:`finish_import`); returns its id."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO production_imports (source, rows_read, rows_new, rows_updated, run_id, "
            "imported_at) VALUES (?, 0, 0, 0, ?, ?)",
            (source, run_id, utc_now()),
        )
    return int(cursor.lastrowid or 0)


def finish_import(store: Store, import_id: int, *, read: int, new: int, updated: int) -> None:
    """Store an import's counts."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE production_imports SET rows_read = ?, rows_new = ?, rows_updated = ? "
            "WHERE id = ?",
            (read, new, updated, import_id),
        )


def add_rows(store: Store, import_id: int, rows: Sequence[LoggedRow]) -> tuple[int, int]:
    """Insert the rows not stored yet, and fill a stored row's shadow answer or kept input
    where it had none (one transaction).

    Returns:
        (rows inserted, stored rows that gained a shadow answer or an input).
    """
    insert = (
        f"INSERT OR IGNORE INTO production ({', '.join(_COLUMNS)}, import_id) "
        f"VALUES ({', '.join('?' * len(_COLUMNS))}, ?)"
    )
    key = "bundle_sha = ? AND request_id = ? AND item = ?"
    fill_shadow = (
        "UPDATE production SET shadow_status = ?, teacher_label = ? "
        f"WHERE {key} AND shadow_status IS NULL"
    )
    fill_input = (
        f"UPDATE production SET input_kind = ?, input_text = ? WHERE {key} AND input_kind IS NULL"
    )
    new = updated = 0
    with store.transaction() as conn:
        for row in rows:
            values = tuple(getattr(row, name) for name in _COLUMNS)
            if conn.execute(insert, (*values, import_id)).rowcount == 1:
                new += 1
                continue
            ident = (row.bundle_sha, row.request_id, row.item)
            changed = 0
            if row.shadow_status is not None:
                changed += conn.execute(
                    fill_shadow, (row.shadow_status, row.teacher_label, *ident)
                ).rowcount
            if row.input_kind is not None:
                changed += conn.execute(
                    fill_input, (row.input_kind, row.input_text, *ident)
                ).rowcount
            updated += bool(changed)
    return new, updated


def add_errors(store: Store, import_id: int, errors: Sequence[LoggedError]) -> int:
    """Insert the failed requests not stored yet (one transaction); returns how many."""
    insert = (
        "INSERT OR IGNORE INTO production_errors (bundle_sha, request_id, time, status, kind, "
        "texts, import_id) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    new = 0
    with store.transaction() as conn:
        for e in errors:
            values = (e.bundle_sha, e.request_id, e.time, e.status, e.kind, e.texts, import_id)
            new += conn.execute(insert, values).rowcount
    return new


def error_rows(store: Store, bundle_sha: str) -> list[LoggedError]:
    """Every stored failed request of one bundle, oldest first."""
    rows = store.conn.execute(
        "SELECT bundle_sha, request_id, time, status, kind, texts FROM production_errors "
        "WHERE bundle_sha = ? ORDER BY time, id",
        (bundle_sha,),
    )
    return [LoggedError(str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), r[5]) for r in rows]


def bundles(store: Store) -> list[tuple[str, int, str, str]]:
    """``(bundle SHA-256, rows, first time, last time)`` per served bundle, newest last."""
    rows = store.conn.execute(
        "SELECT bundle_sha, COUNT(*), MIN(time), MAX(time) FROM production "
        "GROUP BY bundle_sha ORDER BY MAX(time), bundle_sha"
    )
    return [(str(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]


def production_rows(store: Store, bundle_sha: str) -> list[ProductionRow]:
    """Every stored prediction of one bundle, oldest first."""
    rows = store.conn.execute(
        "SELECT id, time, label, probabilities, confidence, input_chars, fingerprint, shadow, "
        "shadow_status, teacher_label, input_kind, used_as, request_id FROM production "
        "WHERE bundle_sha = ? ORDER BY time, id",
        (bundle_sha,),
    )
    return [
        ProductionRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            bytes(r[6]),
            bool(r[7]),
            r[8],
            r[9],
            r[10],
            r[11],
            r[12],
        )
        for r in rows
    ]


def kept_inputs(store: Store, ids: Sequence[int]) -> dict[int, tuple[str, bytes]]:
    """``id → (kind, stored text)`` of the given rows that kept their input."""
    found: dict[int, tuple[str, bytes]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        rows = store.conn.execute(
            "SELECT id, input_kind, input_text FROM production WHERE input_kind IS NOT NULL "
            f"AND id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        for row in rows:
            text = row[2] if isinstance(row[2], bytes) else str(row[2]).encode("utf-8")
            found[int(row[0])] = (str(row[1]), text)
    return found


def shown_texts(store: Store, ids: Sequence[int]) -> dict[int, str]:
    """``id → anonymized text`` for the given rows where one exists: kept anonymized by the
    server, or anonymized in the project after re-distillation imported it. Never raw or
    encrypted text."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        rows = store.conn.execute(
            "SELECT p.id, CASE WHEN p.input_kind = 'anonymized' THEN p.input_text END, a.text "
            "FROM production p LEFT JOIN anonymized a ON a.record_id = p.record_id "
            f"WHERE p.id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        for row in rows:
            value = row[2] if row[2] is not None else row[1]
            if value is not None:
                found[int(row[0])] = value.decode("utf-8") if isinstance(value, bytes) else value
    return found


def add_production_records(
    store: Store, dataset_id: int, rows: Sequence[tuple[int, str, str]], run_id: str
) -> dict[int, int]:
    """Store chosen production rows as records of ``dataset_id``: ``(production id, text,
    split)`` with split ``train`` or ``unassigned`` (the evaluation slice, which no stage
    trains on). A text already in the project is not stored twice and not used (it may be
    a test record).

    Returns:
        production id → its new record id, for the rows that became records.
    """
    made: dict[int, int] = {}
    with store.transaction() as conn:
        for number, (production_id, text, split) in enumerate(rows, 1):
            digest = hashlib.sha256(text.encode("utf-8")).digest()
            cursor = conn.execute(
                "INSERT OR IGNORE INTO records (dataset_id, source_row, split, text, "
                "text_sha256, label, user_flag) VALUES (?, ?, ?, ?, ?, NULL, 0)",
                (dataset_id, number, split, text, digest),
            )
            if cursor.rowcount != 1:
                continue
            record_id = int(cursor.lastrowid or 0)
            made[production_id] = record_id
            conn.execute(
                "UPDATE production SET record_id = ?, used_as = ?, used_by = ? WHERE id = ?",
                (record_id, "train" if split == "train" else "slice", run_id, production_id),
            )
    return made


def used_records(store: Store, run_id: str, used_as: str) -> list[tuple[int, int]]:
    """``(production id, record id)`` of the rows a re-distill run turned into records as
    ``train`` or ``slice``, in production id order."""
    rows = store.conn.execute(
        "SELECT id, record_id FROM production WHERE used_by = ? AND used_as = ? "
        "AND record_id IS NOT NULL ORDER BY id",
        (run_id, used_as),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def slice_inputs(
    store: Store, record_ids: Sequence[int], teacher: tuple[str, str]
) -> list[tuple[int, str, str | None]]:
    """``(record id, text as served, teacher label)`` of the evaluation slice's records
    (the label None where the teacher gave no valid answer)."""
    found: list[tuple[int, str, str | None]] = []
    for start in range(0, len(record_ids), _CHUNK):
        chunk = list(record_ids[start : start + _CHUNK])
        rows = store.conn.execute(
            "SELECT r.id, r.text, t.label FROM records r LEFT JOIN teacher_outputs t "
            "ON t.record_id = r.id AND t.teacher_id = ? AND t.prompt_version = ? AND t.valid = 1 "
            f"WHERE r.id IN ({', '.join('?' * len(chunk))}) ORDER BY r.id",
            [*teacher, *chunk],
        )
        found += [(int(r[0]), str(r[1]), r[2]) for r in rows]
    return found


def split_texts(store: Store, split: str) -> list[tuple[int, str]]:
    """``(record id, raw text)`` of one split's records, in id order (the monitor's reference:
    a server sees raw text)."""
    rows = store.conn.execute(
        "SELECT id, text FROM records WHERE split = ? ORDER BY id", (split,)
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]
