"""The train/validation/test split inside SQLite (the class sizes are
:mod:`core.data.split`'s).

Set-based, so that a million rows never need to be in Python memory: a window query ranks
the rows of each label by a keyed hash of their text hash and the seed, so the same rows and
seed give the same split whatever order the file lists them in.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

from core.store.db import Store

KEY_FUNCTION = "stillroom_shuffle_key"
_SIZES = "temp.stillroom_split_sizes"
_RANKED = "temp.stillroom_split_ranked"


def shuffle_key(seed: int, text_sha256: bytes) -> int:
    """The record's position key for ``seed``: a 64-bit keyed hash, as a signed integer."""
    key = str(seed).encode("ascii")[:64]
    digest = hashlib.blake2b(text_sha256, digest_size=8, key=key).digest()
    return int.from_bytes(digest, "big", signed=True)


def register_functions(conn: sqlite3.Connection) -> None:
    """Make :func:`shuffle_key` callable from SQL as ``stillroom_shuffle_key(seed, sha)``."""
    conn.create_function(KEY_FUNCTION, 2, shuffle_key, deterministic=True)


def unassigned_classes(
    store: Store, dataset_id: int, *, stratify: bool
) -> list[tuple[str | None, int]]:
    """``(label, records)`` of the dataset's still-unassigned records, one row per label
    (one row with label None when not stratified)."""
    group = "label" if stratify else "NULL"
    rows = store.conn.execute(
        f"SELECT {group}, COUNT(*) FROM records "
        "WHERE dataset_id = ? AND split = 'unassigned' GROUP BY 1",
        (dataset_id,),
    )
    return rows.fetchall()


def assign_splits(
    store: Store,
    dataset_id: int,
    held_out: Sequence[tuple[str | None, int, int]],
    seed: int,
    *,
    stratify: bool,
) -> None:
    """Give every still-unassigned record of the dataset a train/validation/test split.

    Args:
        store: the project's store, inside the caller's transaction.
        dataset_id: the dataset whose ``split = 'unassigned'`` records are split.
        held_out: per label of :func:`unassigned_classes`, ``(label, test rows, test +
            validation rows)``: ranks up to the first go to test, up to the second to
            validation, the rest to train.
        seed: the shuffle seed.
        stratify: rank each label separately; otherwise the dataset as one group.
    """
    conn = store.conn
    register_functions(conn)
    group = "label" if stratify else "NULL"
    conn.execute(f"DROP TABLE IF EXISTS {_SIZES}")
    conn.execute(f"CREATE TABLE {_SIZES} (label TEXT UNIQUE, n_test INTEGER, n_held INTEGER)")
    conn.executemany(f"INSERT INTO {_SIZES} VALUES (?, ?, ?)", held_out)
    conn.execute(f"DROP TABLE IF EXISTS {_RANKED}")
    conn.execute(f"CREATE TABLE {_RANKED} (id INTEGER PRIMARY KEY, split TEXT NOT NULL)")
    # Staged in id order so that the UPDATE below walks records sequentially; joined
    # straight from the window query it visits them in shuffle order, three times slower.
    conn.execute(
        f"""
        INSERT INTO {_RANKED} (id, split)
        SELECT r.id, CASE WHEN r.rank <= s.n_test THEN 'test'
                          WHEN r.rank <= s.n_held THEN 'validation'
                          ELSE 'train' END
        FROM (
            SELECT id, {group} AS label, ROW_NUMBER() OVER (
                PARTITION BY {group} ORDER BY {KEY_FUNCTION}(:seed, text_sha256), text_sha256
            ) AS rank
            FROM records
            WHERE dataset_id = :dataset AND split = 'unassigned'
        ) AS r
        JOIN {_SIZES} AS s ON s.label IS r.label
        ORDER BY r.id
        """,
        {"seed": seed, "dataset": dataset_id},
    )
    conn.execute(
        f"UPDATE records SET split = ranked.split FROM {_RANKED} AS ranked "
        "WHERE records.id = ranked.id"
    )
    conn.execute(f"DROP TABLE {_SIZES}")
    conn.execute(f"DROP TABLE {_RANKED}")
