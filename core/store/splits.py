"""Where a dataset's records go, decided inside SQLite: the edge-case set and the seeded,
stratified train/validation/test split (the rules are :mod:`core.data.edges` and
:mod:`core.data.split`).

Both are set-based so that a million rows never need to be in Python memory: window
queries rank the rows of each label by a keyed hash of their text hash and the seed, so the
same rows and seed give the same result whatever order the file lists them in.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.store.db import Store

KEY_FUNCTION = "stillroom_shuffle_key"
_NON_ASCII_FUNCTION = "stillroom_non_ascii_share"
_SIZES = "temp.stillroom_split_sizes"
_RANKED = "temp.stillroom_split_ranked"
_CANDIDATES = "temp.stillroom_edge_candidates"


@dataclass(frozen=True, slots=True)
class EdgeQuota:
    """What each automatic edge-case reason may take from one dataset.

    Attributes:
        priorities: reason -> priority when the cap binds (lower first).
        rare_below: labels with fewer rows give up a third of them; None: no rare labels.
        extremes: how many longest and how many shortest texts to take (0: none).
        non_ascii_above: the share of non-ASCII characters that makes a text an edge case.
        cap: automatic edge cases at most.
    """

    priorities: Mapping[str, int]
    rare_below: float | None
    extremes: int
    non_ascii_above: float
    cap: int


def shuffle_key(seed: int, text_sha256: bytes) -> int:
    """The record's position key for ``seed``: a 64-bit keyed hash, as a signed integer."""
    key = str(seed).encode("ascii")[:64]
    digest = hashlib.blake2b(text_sha256, digest_size=8, key=key).digest()
    return int.from_bytes(digest, "big", signed=True)


def non_ascii_share(text: str | None) -> float:
    """The fraction of the characters of ``text`` that are not ASCII."""
    if not text or text.isascii():
        return 0.0
    return (len(text) - len(text.encode("ascii", "ignore"))) / len(text)


def _register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function(KEY_FUNCTION, 2, shuffle_key, deterministic=True)
    conn.create_function(_NON_ASCII_FUNCTION, 1, non_ascii_share, deterministic=True)


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
    return [(label, int(n)) for label, n in rows]


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
    _register_functions(conn)
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


def select_edge_cases(
    store: Store, dataset_id: int, quota: EdgeQuota, *, seed: int, stratify: bool
) -> None:
    """Move the dataset's edge cases to ``split = 'edge'`` with their ``edge_reason``:
    every user-flagged record, then the automatic candidates that ``quota`` allows.

    Args:
        store: the project's store, inside the caller's transaction.
        dataset_id: the dataset, whose records are all still ``unassigned``.
        quota: what each automatic reason may take.
        seed: the shuffle seed, for ties and partial picks.
        stratify: the labels are classes (classes keep two thirds of their rows).
    """
    conn = store.conn
    _register_functions(conn)
    conn.execute(
        "UPDATE records SET split = 'edge', edge_reason = 'user_flag' "
        "WHERE dataset_id = ? AND user_flag = 1",
        (dataset_id,),
    )
    conn.execute(f"DROP TABLE IF EXISTS {_CANDIDATES}")
    conn.execute(
        f"CREATE TABLE {_CANDIDATES} (record_id INTEGER PRIMARY KEY, reasons TEXT NOT NULL, "
        "priority INTEGER NOT NULL)"
    )
    params = {"dataset": dataset_id, "seed": seed}
    if quota.rare_below is not None:
        _add(conn, quota, "rare_label", _rare_labels(quota.rare_below), params)
    if quota.extremes:
        for reason, direction in (("longest", "DESC"), ("shortest", "ASC")):
            _add(conn, quota, reason, _length_extremes(direction, quota.extremes), params)
    non_ascii = (
        "SELECT id FROM records WHERE dataset_id = :dataset AND split = 'unassigned' "
        f"AND {_NON_ASCII_FUNCTION}(text) > {float(quota.non_ascii_above)!r}"
    )
    _add(conn, quota, "non_ascii", non_ascii, params)
    _choose(conn, params, cap=quota.cap, stratify=stratify)
    conn.execute(f"DROP TABLE {_CANDIDATES}")


def _rare_labels(threshold: float) -> str:
    """The ids of a third of the rows of each label with fewer than ``threshold`` rows."""
    return f"""
        SELECT id FROM (
            SELECT id,
                ROW_NUMBER() OVER (
                    PARTITION BY label ORDER BY {KEY_FUNCTION}(:seed, text_sha256), text_sha256
                ) AS rank,
                COUNT(*) OVER (PARTITION BY label) AS size
            FROM records
            WHERE dataset_id = :dataset AND split = 'unassigned' AND label IN (
                SELECT label FROM records
                WHERE dataset_id = :dataset AND split = 'unassigned' AND label IS NOT NULL
                GROUP BY label HAVING COUNT(*) < {float(threshold)!r}
            )
        )
        WHERE rank <= size / 3
        """


def _length_extremes(direction: str, count: int) -> str:
    """The ids of the ``count`` longest (``DESC``) or shortest (``ASC``) texts."""
    return (
        "SELECT id FROM records WHERE dataset_id = :dataset AND split = 'unassigned' "
        f"ORDER BY length(text) {direction}, text_sha256 LIMIT {int(count)}"
    )


def _add(
    conn: sqlite3.Connection,
    quota: EdgeQuota,
    reason: str,
    select_ids: str,
    params: dict[str, int],
) -> None:
    """Add ``reason`` to the candidates for the record ids ``select_ids`` returns."""
    conn.execute(
        f"""
        INSERT INTO {_CANDIDATES} (record_id, reasons, priority)
        SELECT id, '{reason}', {int(quota.priorities[reason])} FROM ({select_ids}) WHERE true
        ON CONFLICT (record_id) DO UPDATE SET
            reasons = reasons || ',' || excluded.reasons,
            priority = min(priority, excluded.priority)
        """,
        params,
    )


def _choose(conn: sqlite3.Connection, params: dict[str, int], *, cap: int, stratify: bool) -> None:
    """Move the best ``cap`` candidates to the edge set, a third of a class at most."""
    partition = "PARTITION BY r.label" if stratify else ""
    class_limit = "WHERE label IS NULL OR class_rank <= class_size / 3" if stratify else ""
    sizes = (
        """JOIN (
            SELECT label, COUNT(*) AS class_size FROM records
            WHERE dataset_id = :dataset AND split = 'unassigned' GROUP BY label
        ) AS sizes ON sizes.label IS r.label"""
        if stratify
        else "JOIN (SELECT 0 AS class_size) AS sizes"
    )
    conn.execute(
        f"""
        UPDATE records SET split = 'edge', edge_reason = chosen.reasons
        FROM (
            SELECT record_id, reasons FROM (
                SELECT c.record_id, c.reasons, c.priority, r.label, r.text_sha256,
                    {KEY_FUNCTION}(:seed, r.text_sha256) AS key,
                    ROW_NUMBER() OVER (
                        {partition} ORDER BY c.priority,
                            {KEY_FUNCTION}(:seed, r.text_sha256), r.text_sha256
                    ) AS class_rank,
                    sizes.class_size
                FROM {_CANDIDATES} AS c
                JOIN records AS r ON r.id = c.record_id
                {sizes}
            )
            {class_limit}
            ORDER BY priority, key, text_sha256
            LIMIT {int(cap)}
        ) AS chosen
        WHERE records.id = chosen.record_id
        """,
        params,
    )
