"""What the data page shows about the datasets already imported: counts read from the store.

An :class:`~core.data.importer.ImportResult` says what one import did, but only to the
process that ran it; a reopened project needs the same numbers from the ``datasets`` and
``records`` tables. Counts and classification labels only, never row contents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.data.edges import (
    AUTOMATIC_CAP_SHARE,
    LENGTH_EXTREMES_MAX,
    LENGTH_EXTREMES_MIN_ROWS,
    LENGTH_EXTREMES_SHARE,
    NON_ASCII_SHARE,
    RARE_MIN_ROWS,
    RARE_SHARE,
)
from core.data.split import SPLITS
from core.data.stats import edge_reason_counts, label_distribution
from core.project import Project

# One plain sentence per edge-case reason, written from the rules' own constants so the
# explanation cannot drift from what core.data.edges does.
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
class DatasetSummary:
    """One imported dataset as counts: what was read, dropped, kept and where it went."""

    dataset_id: int
    name: str
    format: str
    encoding: str | None
    imported_at: str
    rows_read: int
    rows_imported: int
    duplicates_dropped: int
    conflicting_labels: int
    empty_dropped: int
    oversize_dropped: int
    text_column: str
    label_column: str | None
    split_fractions: tuple[float, ...]
    seed: int | None
    split_counts: dict[str, int]  # train / validation / test / edge, in that order
    labels_by_split: dict[str, dict[str | None, int]]  # split -> label (None: unlabelled)
    edge_reasons: dict[str, int]  # reason -> records with it


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
    rows = project.store.query(
        "SELECT id, name, format, encoding, imported_at, rows_read, row_count, "
        "duplicates_dropped, conflicting_labels, empty_dropped, oversize_dropped, column_map, "
        "split_config FROM datasets ORDER BY id"
    )
    return [
        known.get((int(row["id"]), str(row["imported_at"]))) or _summary(project, row)
        for row in rows
    ]


def _summary(project: Project, row: dict[str, Any]) -> DatasetSummary:
    dataset_id = int(row["id"])
    columns = json.loads(row["column_map"])
    split_config = json.loads(row["split_config"])
    by_split = label_distribution(project, dataset_id)
    counts = {name: sum(by_split.get(name, {}).values()) for name in (*SPLITS, "edge")}
    return DatasetSummary(
        dataset_id=dataset_id,
        name=str(row["name"]),
        format=str(row["format"]),
        encoding=row["encoding"],
        imported_at=str(row["imported_at"]),
        rows_read=int(row["rows_read"]),
        rows_imported=int(row["row_count"]),
        duplicates_dropped=int(row["duplicates_dropped"]),
        conflicting_labels=int(row["conflicting_labels"]),
        empty_dropped=int(row["empty_dropped"]),
        oversize_dropped=int(row["oversize_dropped"]),
        text_column=str(columns.get("text") or ""),
        label_column=columns.get("label"),
        split_fractions=tuple(float(f) for f in split_config.get("fractions", ())),
        seed=split_config.get("seed"),
        split_counts=counts,
        labels_by_split={name: by_split[name] for name in (*SPLITS, "edge") if name in by_split},
        edge_reasons=edge_reason_counts(project.store.conn, dataset_id),
    )
