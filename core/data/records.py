"""From source rows to ``records`` rows: clean, check, hash, drop duplicates, insert.

Text is stored as read except that surrounding whitespace is stripped: a trailing newline
or space from a spreadsheet cell is not part of the input, and without stripping such rows
would escape exact-duplicate detection and whitespace-only rows would not count as empty.
Inner whitespace is kept. ``text_sha256`` is the SHA-256 of the stored (stripped) text.

Exact duplicates are found through the project-wide UNIQUE index on ``text_sha256``: a row
whose text is already in the project (from this file or an earlier one) is dropped; if
both it and the kept row have a label and they differ, it also counts as a conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.data.cells import UnsupportedCell, cell_text
from core.data.readers import Row
from core.errors import ColumnError, DataFileError
from core.store import records as stored
from core.store.db import Store
from core.store.records import RecordRow

BATCH_ROWS = 5000
TRUTHY = frozenset({"1", "true", "yes", "y", "x"})


@dataclass(frozen=True, slots=True)
class RowRules:
    """What a row must satisfy, and where its cells are."""

    dataset_id: int
    source_name: str
    row_word: str
    text_column: str
    label_column: str | None = None
    flag_column: str | None = None
    max_chars: int = 100_000
    skip_oversize: bool = False
    known_labels: frozenset[str] | None = None  # None: any label is accepted

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns to read, in the order :func:`prepare_row` expects their cells."""
        optional = (self.label_column, self.flag_column)
        return (self.text_column, *(name for name in optional if name is not None))


@dataclass
class LoadCounts:
    rows_read: int = 0
    empty_dropped: int = 0
    oversize_dropped: int = 0
    duplicates_dropped: int = 0
    conflicting_labels: int = 0
    unknown_labels: int = 0
    first_unknown_label_row: int | None = None

    def duplicate(self, kept_label: str | None, dropped_label: str | None) -> None:
        self.duplicates_dropped += 1
        if kept_label is not None and dropped_label is not None and kept_label != dropped_label:
            self.conflicting_labels += 1


def load_records(
    store: Store, rows: Iterable[Row], rules: RowRules, *, on_batch: Callable[[int], None]
) -> LoadCounts:
    """Insert every acceptable row, in batches of :data:`BATCH_ROWS` rows read.

    Args:
        store: the project's store, inside the caller's transaction.
        rows: ``(row number, cells of rules.columns)`` from a reader.
        rules: the checks and the dataset the records belong to.
        on_batch: called with the rows read so far after each batch; it may raise (to
            cancel).

    Raises:
        DataFileError: a text is longer than ``max_chars`` (without ``skip_oversize``) or
            is not valid Unicode.
        ColumnError: a cell holds a list, an object or binary data.
    """
    counts = LoadCounts()
    batch: list[RecordRow] = []
    for number, cells in rows:
        prepared = prepare_row(number, cells, rules, counts)
        if prepared is not None:
            batch.append(prepared)
        if counts.rows_read % BATCH_ROWS == 0:
            insert_batch(store, batch, counts)
            batch = []
            on_batch(counts.rows_read)
    insert_batch(store, batch, counts)
    return counts


def prepare_row(
    number: int, cells: Sequence[object], rules: RowRules, counts: LoadCounts
) -> RecordRow | None:
    """The record for one source row, or None if it is dropped (and counted)."""
    counts.rows_read += 1
    text = _text(cells[0], rules.text_column, number, rules).strip()
    if not text:
        counts.empty_dropped += 1
        return None
    if len(text) > rules.max_chars:
        if not rules.skip_oversize:
            raise DataFileError(
                f"{rules.source_name}: the text at {rules.row_word} {number} is longer than "
                f"the limit of {rules.max_chars:,} characters",
                "pass --skip-oversize to drop such rows, or raise --max-chars",
            )
        counts.oversize_dropped += 1
        return None
    label = None
    if rules.label_column is not None:
        label = _text(cells[1], rules.label_column, number, rules).strip() or None
        if label is not None and rules.known_labels is not None:
            _check_label(label, number, rules, counts)
    flag = 0
    if rules.flag_column is not None:
        flag = int(_text(cells[-1], rules.flag_column, number, rules).strip().lower() in TRUTHY)
    digest = hashlib.sha256(_utf8(text, number, rules)).digest()
    if label is not None:
        _utf8(label, number, rules)
    return (rules.dataset_id, number, text, digest, label, flag)


def insert_batch(store: Store, batch: list[RecordRow], counts: LoadCounts) -> None:
    """Insert ``batch``, dropping and counting texts that are already in the project.

    Only a batch that lost rows looks up the rows it lost, so a file without duplicates
    pays nothing for the check.
    """
    first_label: dict[bytes, str | None] = {}
    unique: list[RecordRow] = []
    for row in batch:
        if row[3] in first_label:
            counts.duplicate(first_label[row[3]], row[4])
            continue
        first_label[row[3]] = row[4]
        unique.append(row)
    if stored.insert_records(store, unique) == len(unique):
        return
    kept = stored.kept_records(store, [row[3] for row in unique])
    for row in unique:
        dataset_id, source_row, label = kept[row[3]]
        if (dataset_id, source_row) != (row[0], row[1]):
            counts.duplicate(label, row[4])


def _text(value: object, column: str, number: int, rules: RowRules) -> str:
    try:
        return cell_text(value)
    except UnsupportedCell as exc:
        raise ColumnError(
            f"{rules.source_name}: column {column!r} holds {exc.kind} at {rules.row_word} "
            f"{number}, not text",
            "pick a column of plain text values, or flatten the data before importing",
        ) from exc


def _utf8(text: str, number: int, rules: RowRules) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataFileError(
            f"{rules.source_name}: {rules.row_word} {number} holds an unpaired surrogate "
            "escape (invalid Unicode)",
            "fix the \\ud800-\\udfff escape in that row, or export the file again",
        ) from exc


def _check_label(label: str, number: int, rules: RowRules, counts: LoadCounts) -> None:
    if rules.known_labels is not None and label not in rules.known_labels:
        counts.unknown_labels += 1
        if counts.first_unknown_label_row is None:
            counts.first_unknown_label_row = number
