"""The ``datasets`` and ``records`` tables: what an import writes, and counts over them.

Every function takes the project's :class:`~core.store.db.Store`; inside an import they run
in its transaction (nested transactions join it). Only :func:`record_texts` returns record
text, for the anonymize stage; the rest returns counts, ids and classification labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

from core.store.db import Store, utc_now

# (dataset_id, source_row, text, text_sha256, label, user_flag): one row of ``records``.
RecordRow = tuple[int, int, str, bytes, str | None, int]
_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class DatasetRow:
    """One ``datasets`` row, its JSON columns unpacked."""

    id: int
    name: str
    source_path: str
    source_sha256: str
    format: str
    encoding: str | None
    row_count: int
    rows_read: int
    duplicates_dropped: int
    conflicting_labels: int
    empty_dropped: int
    oversize_dropped: int
    imported_at: str
    text_column: str
    label_column: str | None
    split_fractions: tuple[float, ...]
    seed: int | None


# The fields stored as columns of the same name; the others are read from JSON columns.
_STORED_FIELDS = tuple(field.name for field in fields(DatasetRow))[:-4]


def insert_dataset(
    store: Store,
    *,
    name: str,
    source: tuple[str, str, int],
    format: str,
    encoding: str | None,
    columns: dict[str, str | None],
    split: dict[str, Any],
) -> int:
    """Insert a dataset row without counts (:func:`finish_dataset` adds them); returns its id.

    ``source`` is the file's path, SHA-256 and size in bytes; ``columns`` names the text,
    label and flag columns (``{"text": ..., "label": ..., "flag": ...}``); ``split`` holds
    the ``fractions`` and the ``seed``.
    """
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "encoding, row_count, rows_read, column_map, split_config, imported_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
            (name, *source, format, encoding, json.dumps(columns), json.dumps(split), utc_now()),
        )
    return int(cursor.lastrowid or 0)


def finish_dataset(store: Store, dataset_id: int, **counts: int) -> None:
    """Store an import's counts (``row_count``, ``rows_read``, ``duplicates_dropped``,
    ``conflicting_labels``, ``empty_dropped``, ``oversize_dropped``) on its dataset."""
    names = sorted(counts)
    with store.transaction() as conn:
        conn.execute(
            f"UPDATE datasets SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?",
            (*(counts[name] for name in names), dataset_id),
        )


def datasets(store: Store, sha256: str | None = None) -> list[DatasetRow]:
    """Every imported dataset, oldest first (or the one imported from the file ``sha256``)."""
    where, params = ("WHERE source_sha256 = ?", (sha256,)) if sha256 else ("", ())
    columns = ", ".join((*_STORED_FIELDS, "column_map", "split_config"))
    rows = store.conn.execute(f"SELECT {columns} FROM datasets {where} ORDER BY id", params)
    return [_dataset(row) for row in rows]


def _dataset(row: tuple[Any, ...]) -> DatasetRow:
    columns, split = json.loads(row[-2]), json.loads(row[-1])
    return DatasetRow(
        **dict(zip(_STORED_FIELDS, row[:-2], strict=True)),
        text_column=str(columns.get("text") or ""),
        label_column=columns.get("label"),
        split_fractions=tuple(float(f) for f in split.get("fractions", ())),
        seed=split.get("seed"),
    )


def insert_records(store: Store, rows: Sequence[RecordRow]) -> int:
    """Insert the rows whose text is not in the project yet; returns how many were new."""
    with store.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO records "
            "(dataset_id, source_row, text, text_sha256, label, user_flag) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        return conn.total_changes - before


def kept_records(
    store: Store, digests: Sequence[bytes]
) -> dict[bytes, tuple[int, int, str | None]]:
    """The record already stored under each text hash: ``(dataset_id, source_row, label)``."""
    sql = "SELECT text_sha256, dataset_id, source_row, label FROM records WHERE text_sha256 IN"
    return {row[0]: row[1:] for row in _rows_in(store, sql, digests)}


def count_records(store: Store, dataset_id: int | None = None, *, split: str | None = None) -> int:
    """Records in the project, in one dataset, and/or in one split."""
    where, params = _where(dataset_id, split=split)
    return int(store.scalar(f"SELECT COUNT(*) FROM records {where}", params) or 0)


def split_counts(store: Store, dataset_id: int | None = None) -> dict[str, int]:
    """Records per split, over one dataset or the whole project."""
    where, params = _where(dataset_id)
    sql = f"SELECT split, COUNT(*) FROM records {where} GROUP BY split"
    return dict(store.conn.execute(sql, params).fetchall())


def label_counts(store: Store, dataset_id: int | None = None) -> dict[str | None, int]:
    """Records per label (None: unlabelled), sorted by label, unlabelled first."""
    where, params = _where(dataset_id)
    rows = store.conn.execute(
        f"SELECT label, COUNT(*) FROM records {where} GROUP BY label ORDER BY label", params
    )
    return dict(rows.fetchall())


def distinct_labels(store: Store, dataset_id: int) -> int:
    """How many different (non-empty) labels one dataset holds."""
    sql = "SELECT COUNT(DISTINCT label) FROM records WHERE dataset_id = ?"
    return int(store.scalar(sql, (dataset_id,)) or 0)


def labels_by_split(
    store: Store, dataset_id: int | None = None, *, labels: bool = True
) -> list[tuple[str, str | None, int]]:
    """``(split, label, records)`` rows ordered by label; ``labels=False`` counts every
    record as unlabelled (a generation project's "labels" are reference texts)."""
    shown = "label" if labels else "NULL"
    where, params = _where(dataset_id)
    rows = store.conn.execute(
        f"SELECT split, {shown} AS shown, COUNT(*) FROM records {where} "
        "GROUP BY split, shown ORDER BY shown",
        params,
    )
    return rows.fetchall()


def edge_reason_counts(store: Store, dataset_id: int | None = None) -> dict[str, int]:
    """Edge-case records per reason (a record with two reasons counts for both)."""
    where, params = _where(dataset_id, split="edge")
    counts: dict[str, int] = {}
    rows = store.conn.execute(
        f"SELECT edge_reason, COUNT(*) FROM records {where} GROUP BY edge_reason", params
    )
    for reasons, n in rows:
        for reason in str(reasons).split(","):
            counts[reason] = counts.get(reason, 0) + int(n)
    return counts


def source_datasets(store: Store, record_ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """``(id, name, source SHA-256)`` of the datasets that ``record_ids`` came from."""
    sql = "SELECT DISTINCT dataset_id FROM records WHERE id IN"
    used = {row[0] for row in _rows_in(store, sql, sorted(set(record_ids)))}
    return [(d.id, d.name, d.source_sha256) for d in datasets(store) if d.id in used]


def record_texts(store: Store, record_ids: Sequence[int]) -> list[tuple[int, str]]:
    """``(id, text)`` of the given records, in id order."""
    rows = store.conn.execute(
        f"SELECT id, text FROM records WHERE id IN ({', '.join('?' * len(record_ids))}) "
        "ORDER BY id",
        list(record_ids),
    )
    return rows.fetchall()


def _rows_in(store: Store, sql: str, values: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows of ``sql`` (ending in ``IN``) for ``values``, asked a chunk at a time: a
    statement takes a bounded number of parameters."""
    for start in range(0, len(values), _LOOKUP_CHUNK):
        chunk = values[start : start + _LOOKUP_CHUNK]
        yield from store.conn.execute(f"{sql} ({', '.join('?' * len(chunk))})", chunk)


def _where(dataset_id: int | None, *, split: str | None = None) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause (possibly empty) and its parameters for a dataset and/or a split."""
    terms = {"dataset_id": dataset_id, "split": split}
    given = {name: value for name, value in terms.items() if value is not None}
    if not given:
        return "", ()
    return "WHERE " + " AND ".join(f"{name} = ?" for name in given), tuple(given.values())
