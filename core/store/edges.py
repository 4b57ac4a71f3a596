"""The edge-case set: records held out of train/validation/test, to probe the student.

Chosen before the split (:mod:`core.store.splits`), over the dataset's records, in SQL:

1. **user_flag** — every row whose flag column is truthy (1/true/yes/y/x). Always all of them.
2. Automatic reasons, among the rows not flagged by the user:

   - **rare_label** — a label with fewer than max(10, 2% of the dataset's rows) rows gives
     up a third of them (rounded down, so at least 1 from a class of 3, none from 1 or 2);
     classification datasets with a label column only.
   - **longest** / **shortest** — the top and bottom 1% by character length (at least 1
     and at most 50 each), only for datasets of at least 50 rows; among rows of equal
     length the text hash decides (not the seed, so the length query stays one sort).
   - **non_ascii** — rows where more than 30% of the characters are not ASCII.

   A row may have several reasons; they are stored comma-joined in ``edge_reason``.
   Automatic edge cases are capped at 5% of the dataset (at least 1), taken in priority
   order rare_label, then longest/shortest, then non_ascii, ties broken by the seeded
   shuffle key. No class ever gives up more than a third of its unflagged rows to them,
   so every class keeps rows to train on.

The choice depends only on the rows and the seed, so it is deterministic.
"""

from __future__ import annotations

import sqlite3

from core.store import records
from core.store.db import Store
from core.store.splits import KEY_FUNCTION, register_functions

NON_ASCII_SHARE = 0.3
AUTOMATIC_CAP_SHARE = 0.05
LENGTH_EXTREMES_MIN_ROWS = 50
LENGTH_EXTREMES_SHARE = 0.01
LENGTH_EXTREMES_MAX = 50
RARE_MIN_ROWS = 10
RARE_SHARE = 0.02
_NON_ASCII_FUNCTION = "stillroom_non_ascii_share"
_TABLE = "temp.stillroom_edge_candidates"
# Reason -> priority when the cap binds (lower first).
REASONS = {"rare_label": 1, "longest": 2, "shortest": 2, "non_ascii": 3}


def non_ascii_share(text: str | None) -> float:
    """The fraction of the characters of ``text`` that are not ASCII."""
    if not text or text.isascii():
        return 0.0
    return (len(text) - len(text.encode("ascii", "ignore"))) / len(text)


def select_edge_cases(store: Store, dataset_id: int, *, seed: int, stratify: bool) -> None:
    """Move the dataset's edge cases to ``split = 'edge'`` with their ``edge_reason``.

    Args:
        store: the project's store, inside the caller's transaction.
        dataset_id: the dataset, whose records are all still ``unassigned``.
        seed: the shuffle seed, for ties and partial picks.
        stratify: the labels are classes (rare labels count; classes keep their rows).
    """
    n = records.count_records(store, dataset_id)
    conn = store.conn
    register_functions(conn)
    conn.create_function(_NON_ASCII_FUNCTION, 1, non_ascii_share, deterministic=True)
    conn.execute(
        "UPDATE records SET split = 'edge', edge_reason = 'user_flag' "
        "WHERE dataset_id = ? AND user_flag = 1",
        (dataset_id,),
    )
    conn.execute(f"DROP TABLE IF EXISTS {_TABLE}")
    conn.execute(
        f"CREATE TABLE {_TABLE} (record_id INTEGER PRIMARY KEY, reasons TEXT NOT NULL, "
        "priority INTEGER NOT NULL)"
    )
    params = {"dataset": dataset_id, "seed": seed}
    if stratify:
        _add_rare_labels(conn, params, threshold=max(RARE_MIN_ROWS, RARE_SHARE * n))
    if n >= LENGTH_EXTREMES_MIN_ROWS:
        count = min(LENGTH_EXTREMES_MAX, max(1, round(LENGTH_EXTREMES_SHARE * n)))
        _add_length_extremes(conn, params, count)
    _add(
        conn,
        "non_ascii",
        f"SELECT id FROM records WHERE dataset_id = :dataset AND split = 'unassigned' "
        f"AND {_NON_ASCII_FUNCTION}(text) > {NON_ASCII_SHARE}",
        params,
    )
    _choose(conn, params, cap=max(1, int(AUTOMATIC_CAP_SHARE * n)), stratify=stratify)
    conn.execute(f"DROP TABLE {_TABLE}")


def _add_rare_labels(conn: sqlite3.Connection, params: dict[str, int], threshold: float) -> None:
    _add(
        conn,
        "rare_label",
        f"""
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
        """,
        params,
    )


def _add_length_extremes(conn: sqlite3.Connection, params: dict[str, int], count: int) -> None:
    for reason, direction in (("longest", "DESC"), ("shortest", "ASC")):
        _add(
            conn,
            reason,
            f"SELECT id FROM records WHERE dataset_id = :dataset AND split = 'unassigned' "
            f"ORDER BY length(text) {direction}, text_sha256 LIMIT {int(count)}",
            params,
        )


def _add(conn: sqlite3.Connection, reason: str, select_ids: str, params: dict[str, int]) -> None:
    """Add ``reason`` to the candidates for the record ids ``select_ids`` returns."""
    conn.execute(
        f"""
        INSERT INTO {_TABLE} (record_id, reasons, priority)
        SELECT id, '{reason}', {REASONS[reason]} FROM ({select_ids}) WHERE true
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
                FROM {_TABLE} AS c
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
