"""Counts over the imported data, read from the store: for import results, ``stillroom
status`` and what the data page shows about the datasets already imported.

An :class:`~core.data.importer.ImportResult` says what one import did, but only to the
process that ran it; a reopened project needs the same numbers from the ``datasets`` and
``records`` tables. Counts and classification labels only, never row contents: in a
generation project the label column holds reference outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from core.data.split import SPLITS
from core.project import Project
from core.store import records
from core.store.db import Store
from core.store.edges import (
    AUTOMATIC_CAP_SHARE,
    LENGTH_EXTREMES_MAX,
    LENGTH_EXTREMES_MIN_ROWS,
    LENGTH_EXTREMES_SHARE,
    NON_ASCII_SHARE,
    RARE_MIN_ROWS,
    RARE_SHARE,
    REASONS,
)
from core.store.records import DatasetRow

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


def edge_reason_counts(store: Store, dataset_id: int) -> dict[str, int]:
    """Edge-case records per reason (a record with two reasons counts for both)."""
    order = ["user_flag", *REASONS]
    counts = records.edge_reason_counts(store, dataset_id)
    return dict(sorted(counts.items(), key=lambda item: order.index(item[0])))


# One plain sentence per edge-case reason, written from the rules' own constants so the
# explanation cannot drift from what core.store.edges does.
EDGE_RULES: dict[str, str] = {
    "user_flag": "Rows your flag column marks (1, true, yes, y or x); always all of them.",
    "rare_label": (
        f"A third of each label with fewer than {RARE_MIN_ROWS} rows "
        f"(or {RARE_SHARE:.0%} of the dataset, whichever is larger)."
    ),
    "longest": (
        f"The longest {LENGTH_EXTREMES_SHARE:.0%} of texts (1 to {LENGTH_EXTREMES_MAX}), "
        f"in datasets of at least {LENGTH_EXTREMES_MIN_ROWS} rows."
    ),
    "shortest": (
        f"The shortest {LENGTH_EXTREMES_SHARE:.0%} of texts (1 to {LENGTH_EXTREMES_MAX}), "
        f"in datasets of at least {LENGTH_EXTREMES_MIN_ROWS} rows."
    ),
    "non_ascii": f"Texts where more than {NON_ASCII_SHARE:.0%} of the characters are not ASCII.",
}
EDGE_CAP_RULE = (
    f"Automatic edge cases are capped at {AUTOMATIC_CAP_SHARE:.0%} of the dataset, and no "
    "label gives up more than a third of its rows, so every label keeps rows to train on."
)


@dataclass(frozen=True, slots=True)
class DatasetSummary(DatasetRow):
    """One imported dataset as counts: what was read, dropped, kept and where it went."""

    split_counts: dict[str, int]  # train / validation / test / edge, in that order
    labels_by_split: dict[str, dict[str | None, int]]  # split -> label (None: unlabelled)
    edge_reasons: dict[str, int]  # reason -> records with it

    @property
    def dataset_id(self) -> int:
        return self.id

    @property
    def rows_imported(self) -> int:
        return self.row_count


def dataset_summaries(
    project: Project, previous: Sequence[DatasetSummary] = ()
) -> list[DatasetSummary]:
    """Every imported dataset of ``project``, oldest first.

    A dataset's records do not change after its import, so a summary from ``previous``
    with the same id and import time is reused: counting a million records' labels takes
    about a second, and a page refreshes far more often than a file is imported.

    Args:
        project: the open project.
        previous: summaries from an earlier call, to reuse where still valid.

    Returns:
        One summary per ``datasets`` row; an empty list before the first import.
    """
    known = {(s.dataset_id, s.imported_at): s for s in previous}
    return [
        known.get((row.id, row.imported_at)) or _summary(project, row)
        for row in records.datasets(project.store)
    ]


def _summary(project: Project, row: DatasetRow) -> DatasetSummary:
    by_split = label_distribution(project, row.id)
    counts = {name: sum(by_split.get(name, {}).values()) for name in (*SPLITS, "edge")}
    return DatasetSummary(
        **{field.name: getattr(row, field.name) for field in fields(DatasetRow)},
        split_counts=counts,
        labels_by_split={name: by_split[name] for name in (*SPLITS, "edge") if name in by_split},
        edge_reasons=edge_reason_counts(project.store, row.id),
    )
