"""The ``anonymized`` and ``vault`` tables: what the anonymize stage wrote, and reads of it.

Reads return anonymized text, offsets into it and counts: never an original value, except
:func:`vault_originals`, whose values are encrypted (only the key holder can read them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.store.db import Store, utc_now

# (entity type, keyed digest of the original, surrogate, encrypted original)
VaultEntry = tuple[str, str, str, bytes]
_ITEM_COLUMNS = "record_id, text, spans, needs_review, review_reasons"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One anonymized record with its replaced spans (offsets into ``text``)."""

    record_id: int
    text: str
    spans: tuple[dict[str, Any], ...]
    needs_review: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnonymizedRow:
    """What one record's anonymization stores (the found values are not in it)."""

    record_id: int
    text: str
    entity_counts: dict[str, int]
    spans: list[dict[str, Any]]
    needs_review: bool
    reasons: list[str]


def to_anonymize(store: Store, config_hash: str) -> list[tuple[int, str | None]]:
    """``(record id, previous config hash)`` of each record not anonymized under
    ``config_hash`` yet, in id order (None: never anonymized)."""
    return store.conn.execute(
        "SELECT r.id, a.config_hash FROM records r LEFT JOIN anonymized a ON a.record_id = r.id "
        "WHERE a.config_hash IS NULL OR a.config_hash != ? ORDER BY r.id",
        (config_hash,),
    ).fetchall()


def save_anonymized(store: Store, config_hash: str, rows: Sequence[AnonymizedRow]) -> None:
    """Store (or replace) the anonymized form of records (joins the caller's transaction)."""
    now = utc_now()
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO anonymized (record_id, text, entity_counts, spans, config_hash, "
            "needs_review, review_reasons, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(record_id) DO UPDATE SET text = excluded.text, "
            "entity_counts = excluded.entity_counts, spans = excluded.spans, "
            "config_hash = excluded.config_hash, needs_review = excluded.needs_review, "
            "review_reasons = excluded.review_reasons, created_at = excluded.created_at",
            [
                (row.record_id, row.text, json.dumps(row.entity_counts, sort_keys=True),
                 json.dumps(row.spans), config_hash, int(row.needs_review),
                 json.dumps(row.reasons), now)
                for row in rows
            ],
        )  # fmt: skip


_HELD_SPLITS = "('train', 'validation', 'test')"


def regroup_duplicates(store: Store) -> tuple[int, int]:
    """Put records whose anonymized texts are identical into one split, the split of the
    group's first record, so that no text is both trained on and tested on (issue 17:
    distinct raw notes became one text once their names were replaced). Joins the
    caller's transaction.

    Returns:
        ``(groups that straddled splits, records moved)``.
    """
    rows = store.conn.execute(
        "SELECT a.text, r.id, r.split FROM anonymized a JOIN records r ON r.id = a.record_id "
        f"WHERE r.split IN {_HELD_SPLITS} AND a.text IN (SELECT a2.text FROM anonymized a2 "
        f"JOIN records r2 ON r2.id = a2.record_id WHERE r2.split IN {_HELD_SPLITS} "
        "GROUP BY a2.text HAVING COUNT(DISTINCT r2.split) > 1) ORDER BY r.id"
    )
    first: dict[str, str] = {}
    moves: list[tuple[str, int]] = []
    for text, record_id, split in rows:
        target = first.setdefault(text, split)
        if split != target:
            moves.append((target, record_id))
    with store.transaction() as conn:
        conn.executemany("UPDATE records SET split = ? WHERE id = ?", moves)
    return len(first), len(moves)


def anonymization_gaps(store: Store) -> tuple[int, int]:
    """Records with no anonymized form, and how many configurations the others used."""
    missing = store.scalar(
        "SELECT COUNT(*) FROM records r LEFT JOIN anonymized a ON a.record_id = r.id "
        "WHERE a.record_id IS NULL"
    )
    settings = store.scalar("SELECT COUNT(DISTINCT config_hash) FROM anonymized")
    return int(missing or 0), int(settings or 0)


def anonymized_counts(store: Store) -> tuple[int, int, str | None]:
    """Anonymized records, those flagged for review, and when the newest was written."""
    done, flagged, newest = store.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(needs_review), 0), MAX(created_at) FROM anonymized"
    ).fetchone()
    return int(done), int(flagged), None if newest is None else str(newest)


def found_counts(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    """Values replaced per entity type, and records flagged per review reason, summed by
    SQLite over the whole project (sorted by name)."""
    entities = store.conn.execute(
        "SELECT e.key, SUM(e.value) FROM anonymized AS a, json_each(a.entity_counts) AS e "
        "GROUP BY e.key ORDER BY e.key"
    )
    reasons = store.conn.execute(
        "SELECT r.value, COUNT(*) FROM anonymized AS a, json_each(a.review_reasons) AS r "
        "GROUP BY r.value ORDER BY r.value"
    )
    return ({str(key): int(n) for key, n in entities}, {str(key): int(n) for key, n in reasons})


def anonymized_ids(store: Store, *, needs_review_only: bool = False) -> list[int]:
    """The ids of the anonymized records (only the flagged ones if asked), in order."""
    where = "WHERE needs_review = 1" if needs_review_only else ""
    rows = store.conn.execute(f"SELECT record_id FROM anonymized {where} ORDER BY record_id")
    return [int(row[0]) for row in rows]


def review_items(store: Store, record_ids: Sequence[int]) -> list[ReviewItem]:
    """The anonymized records with these ids, in id order."""
    marks = ", ".join("?" * len(record_ids))
    rows = store.conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM anonymized WHERE record_id IN ({marks}) ORDER BY record_id",
        list(record_ids),
    )
    return [_item(row) for row in rows]


def review_page(
    store: Store,
    count: int,
    *,
    after_id: int = 0,
    needs_review_only: bool = False,
    reason: str | None = None,
) -> list[ReviewItem]:
    """Up to ``count`` anonymized records with ids above ``after_id``, in id order (only
    those flagged, or flagged with ``reason``, if asked)."""
    flagged = "AND needs_review = 1" if needs_review_only or reason else ""
    if reason:
        flagged += " AND EXISTS (SELECT 1 FROM json_each(review_reasons) WHERE value = ?)"
    rows = store.conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM anonymized "
        f"WHERE record_id > ? {flagged} ORDER BY record_id LIMIT ?",
        (after_id, *((reason,) if reason else ()), max(0, count)),
    )
    return [_item(row) for row in rows]


def _item(row: tuple[Any, ...]) -> ReviewItem:
    record_id, text, spans, needs_review, reasons = row
    return ReviewItem(
        int(record_id),
        str(text),
        tuple(json.loads(spans)),
        bool(needs_review),
        tuple(json.loads(reasons)),
    )


def vault_surrogates(store: Store) -> list[tuple[str, str, str]]:
    """``(entity type, keyed digest, surrogate)`` of every vault entry."""
    return store.conn.execute(
        "SELECT entity_type, original_digest, surrogate FROM vault"
    ).fetchall()


def vault_originals(store: Store) -> list[tuple[str, bytes]]:
    """``(surrogate, encrypted original)`` of every vault entry."""
    return store.conn.execute("SELECT surrogate, original_encrypted FROM vault").fetchall()


def add_vault_entries(store: Store, entries: Sequence[VaultEntry]) -> None:
    """Store new pseudonym pairs (joins the caller's transaction)."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO vault (entity_type, original_digest, surrogate, original_encrypted) "
            "VALUES (?, ?, ?, ?)",
            entries,
        )
