"""Whole-dataset checks run after the rows are loaded, before anything is committed."""

from __future__ import annotations

from collections.abc import Sequence

from core.data.columns import describe_columns
from core.data.formats import SourceFile
from core.data.records import LoadCounts
from core.errors import ColumnError, DataFileError
from core.store import records
from core.store.db import Store

MAX_LABELS = 1000


def check_rows(
    source: SourceFile, text_column: str, columns: Sequence[str], counts: LoadCounts, imported: int
) -> None:
    """Refuse a file that yielded no data rows, or no row worth importing.

    Raises:
        DataFileError: the file has a header but no rows, or every row was dropped.
        ColumnError: the text column is empty in every row.
    """
    name = source.name
    if counts.rows_read == 0:
        header = "columns" if source.format == "parquet" else "a header"
        raise DataFileError(
            f"{name} has {header} but no data rows", "export the data again and check it"
        )
    if imported > 0:
        return
    if counts.empty_dropped == counts.rows_read:
        raise ColumnError(
            f"{name}: the text column {text_column!r} is empty in every row",
            f"pick the column that holds the input text; the columns are: "
            f"{describe_columns(columns)}",
        )
    raise DataFileError(
        f"{name}: no rows are left to import ({counts.empty_dropped:,} empty, "
        f"{counts.oversize_dropped:,} oversize, {counts.duplicates_dropped:,} duplicates "
        "of text already in this project)",
        "check the text column and --max-chars; a file already imported under another "
        "name adds nothing",
    )


def check_labels(
    store: Store,
    dataset_id: int,
    counts: LoadCounts,
    *,
    source_name: str,
    column: str,
    row_word: str,
    project_labels: Sequence[str],
) -> tuple[str, ...]:
    """Check the labels of a classification import.

    Returns:
        The sorted distinct labels to adopt as the project's label set when it has none
        yet; otherwise an empty tuple.

    Raises:
        ColumnError: labels outside the project's set (counted, never quoted), an empty
            label column, a single class, or more than :data:`MAX_LABELS` classes.
    """
    if counts.unknown_labels:
        raise _unknown_labels(counts, source_name, row_word, project_labels)
    distinct = records.distinct_labels(store, dataset_id)
    if distinct == 0:
        raise ColumnError(
            f"{source_name}: the label column {column!r} is empty in every row",
            "leave the label column out to import the data without labels",
        )
    if distinct == 1:
        raise ColumnError(
            f"{source_name}: the label column {column!r} holds only one class",
            "a classifier needs at least two classes; check the column or add the others",
        )
    if distinct > MAX_LABELS:
        raise ColumnError(
            f"{source_name}: the label column {column!r} holds {distinct:,} different "
            f"values; a label set holds at most {MAX_LABELS:,}",
            "check that it is the label column; for free-text outputs, use a generation project",
        )
    if project_labels:
        return ()
    labels = records.label_counts(store, dataset_id)
    return tuple(sorted(label for label in labels if label is not None))


def _unknown_labels(
    counts: LoadCounts, source_name: str, row_word: str, project_labels: Sequence[str]
) -> ColumnError:
    return ColumnError(
        f"{source_name}: {counts.unknown_labels:,} rows have a label outside the "
        f"project's label set (the first at {row_word} {counts.first_unknown_label_row})",
        f"the project's labels are: {', '.join(project_labels)}; fix the file "
        "or pick the right label column",
    )
