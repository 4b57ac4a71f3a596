"""Counts over imported records, for results, ``stillroom status`` and the GUI.

Only classification labels are ever returned as keys: in a generation project the label
column holds reference outputs, which are row contents.
"""

from __future__ import annotations

from core.project import Project
from core.store import records
from core.store.db import Store
from core.store.edges import REASONS

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
    classification = project.settings.task == "classification"
    rows = records.labels_by_split(project.store, dataset_id, labels=classification)
    result: dict[str, dict[str | None, int]] = {}
    for split in SPLIT_ORDER:
        for row_split, shown, count in rows:
            if row_split == split:
                result.setdefault(split, {})[shown] = count
    return result


def dataset_labels(store: Store, dataset_id: int) -> dict[str, int]:
    """Records per (non-empty) label in one dataset, sorted by label."""
    counts = records.label_counts(store, dataset_id)
    return {label: n for label, n in counts.items() if label is not None}


def edge_reason_counts(store: Store, dataset_id: int) -> dict[str, int]:
    """Edge-case records per reason (a record with two reasons counts for both)."""
    order = ["user_flag", *REASONS]
    counts = records.edge_reason_counts(store, dataset_id)
    return dict(sorted(counts.items(), key=lambda item: order.index(item[0])))
