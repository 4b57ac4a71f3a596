"""The seeded, stratified train/validation/test split, computed inside SQLite.

Each record's place in the shuffle is a keyed hash of its text hash and the seed, so the
same rows and seed give the same split whatever order the file lists them in, and the
split of a million rows never needs them in Python memory: a window query ranks the rows
of each label by that key, and the class sizes (computed in Python, one row per label) turn
ranks into splits.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Sequence

from core.errors import UserError

SPLITS = ("train", "validation", "test")
KEY_FUNCTION = "stillroom_shuffle_key"
_SIZES = "temp.stillroom_split_sizes"
_RANKED = "temp.stillroom_split_ranked"


def validate_fractions(split: Sequence[float]) -> tuple[float, float, float]:
    """The train, validation and test fractions, checked.

    Raises:
        UserError: not three finite non-negative numbers summing to 1 with train above 0.
    """
    values = tuple(split)
    hint = "for example --split 0.8,0.1,0.1 (train, validation, test)"
    if len(values) != 3:
        raise UserError(f"the split needs three fractions, got {len(values)}", hint)
    try:
        train, validation, test = (float(value) for value in values)
    except (TypeError, ValueError):
        raise UserError("the split fractions must be numbers", hint) from None
    if not all(math.isfinite(v) and v >= 0 for v in (train, validation, test)):
        raise UserError("the split fractions must not be negative", hint)
    if abs(train + validation + test - 1.0) > 1e-6:
        raise UserError(
            f"the split fractions must sum to 1, got {train + validation + test:g}", hint
        )
    if train <= 0:
        raise UserError("the training fraction must be above 0", hint)
    return train, validation, test


def split_sizes(n: int, validation: float, test: float) -> tuple[int, int, int]:
    """How many of ``n`` rows of one class go to (train, validation, test).

    Half-up rounding of ``n * fraction``; a class of at least 3 rows gets at least one row
    in validation and in test when their fractions are above 0; train always keeps at
    least one row.
    """
    n_test = math.floor(n * test + 0.5)
    n_validation = math.floor(n * validation + 0.5)
    if n >= 3:
        n_test = max(n_test, 1 if test > 0 else 0)
        n_validation = max(n_validation, 1 if validation > 0 else 0)
    keep_for_train = 1 if n >= 1 else 0
    while n_test + n_validation > n - keep_for_train:
        if n_validation >= n_test and n_validation > 0:
            n_validation -= 1
        else:
            n_test -= 1
    return n - n_validation - n_test, n_validation, n_test


def shuffle_key(seed: int, text_sha256: bytes) -> int:
    """The record's position key for ``seed``: a 64-bit keyed hash, as a signed integer."""
    key = str(seed).encode("ascii")[:64]
    digest = hashlib.blake2b(text_sha256, digest_size=8, key=key).digest()
    return int.from_bytes(digest, "big", signed=True)


def register_functions(conn: sqlite3.Connection) -> None:
    """Make :func:`shuffle_key` callable from SQL as ``stillroom_shuffle_key(seed, sha)``."""
    conn.create_function(KEY_FUNCTION, 2, shuffle_key, deterministic=True)


def assign_splits(
    conn: sqlite3.Connection,
    dataset_id: int,
    fractions: tuple[float, float, float],
    seed: int,
    *,
    stratify: bool,
) -> None:
    """Give every still-unassigned record of the dataset a train/validation/test split.

    Args:
        conn: the store connection, inside the caller's transaction.
        dataset_id: the dataset whose ``split = 'unassigned'`` records are split.
        fractions: train, validation, test (validated).
        seed: the shuffle seed.
        stratify: split each label separately (classification with labels); otherwise
            shuffle the dataset as one group.
    """
    register_functions(conn)
    group = "label" if stratify else "NULL"
    classes = conn.execute(
        f"SELECT {group}, COUNT(*) FROM records "
        "WHERE dataset_id = ? AND split = 'unassigned' GROUP BY 1",
        (dataset_id,),
    ).fetchall()
    conn.execute(f"DROP TABLE IF EXISTS {_SIZES}")
    conn.execute(f"CREATE TABLE {_SIZES} (label TEXT UNIQUE, n_test INTEGER, n_held INTEGER)")
    sizes = [(label, *_held_out(n, fractions)) for label, n in classes]
    conn.executemany(f"INSERT INTO {_SIZES} VALUES (?, ?, ?)", sizes)
    conn.execute(f"DROP TABLE IF EXISTS {_RANKED}")
    conn.execute(f"CREATE TABLE {_RANKED} (id INTEGER PRIMARY KEY, split TEXT NOT NULL)")
    # Ranks 1..n_test of each class go to test, the next ones to validation, the rest to
    # train. Staged in id order so that the UPDATE below walks records sequentially; joined
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


def _held_out(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """(test rows, test + validation rows) of a class of ``n`` rows."""
    _, n_validation, n_test = split_sizes(n, fractions[1], fractions[2])
    return n_test, n_test + n_validation
