"""Counts over imported records, for results, ``stillroom status`` and the GUI.

Only classification labels are ever returned as keys: in a generation project the label
column holds reference outputs, which are row contents.
"""

from __future__ import annotations

import sqlite3

from core.data.edges import REASONS
from core.project import Project

SPLIT_ORDER = ("train", "validation", "test", "edge", "unassigned")


def label_distribution(
    project: Project, dataset_id: int | None = None
) -> dict[str, dict[str | None, int]]:
    """Records per split and label, over one dataset or the whole project.

    Args:
        project: the open project.
        dataset_id: one dataset, or None for every dataset.

    Returns:
        ``{split: {label: count}}`` for the splits that hold records, in the order train,
        validation, test, edge. Unlabelled records count under the key None; in a
        generation project every record does (its "labels" are reference texts).
    """
    label = "label" if project.settings.task == "classification" else "NULL"
    where, params = ("WHERE dataset_id = ?", (dataset_id,)) if dataset_id is not None else ("", ())
    rows = project.store.conn.execute(
        f"SELECT split, {label} AS shown, COUNT(*) FROM records {where} "
        "GROUP BY split, shown ORDER BY shown",
        params,
    ).fetchall()
    result: dict[str, dict[str | None, int]] = {}
    for split in SPLIT_ORDER:
        for row_split, shown, count in rows:
            if row_split == split:
                result.setdefault(split, {})[shown] = int(count)
    return result


def dataset_labels(conn: sqlite3.Connection, dataset_id: int) -> dict[str, int]:
    """Records per (non-empty) label in one dataset, sorted by label."""
    rows = conn.execute(
        "SELECT label, COUNT(*) FROM records WHERE dataset_id = ? AND label IS NOT NULL "
        "GROUP BY label ORDER BY label",
        (dataset_id,),
    )
    return {str(label): int(n) for label, n in rows}


def edge_reason_counts(conn: sqlite3.Connection, dataset_id: int) -> dict[str, int]:
    """Edge-case records per reason (a record with two reasons counts for both)."""
    counts: dict[str, int] = {}
    for reasons, n in conn.execute(
        "SELECT edge_reason, COUNT(*) FROM records WHERE dataset_id = ? AND split = 'edge' "
        "GROUP BY edge_reason",
        (dataset_id,),
    ):
        for reason in str(reasons).split(","):
            counts[reason] = counts.get(reason, 0) + int(n)
    order = ["user_flag", *REASONS]
    return dict(sorted(counts.items(), key=lambda item: order.index(item[0])))
