"""The data import stage: one file in, one dataset of split records out (DESIGN §4).

:func:`run_import` checks the file (existence, format by content, SHA-256 against earlier
imports, encoding), then in **one transaction** streams its rows into ``records``, checks
labels, chooses the edge-case set (:mod:`core.data.edges`), splits the rest
(:mod:`core.data.split`), fills in the ``datasets`` row and writes the audit entry. Any
error or a cancel rolls the whole transaction back: a failed import leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data.checks import check_labels, check_rows
from core.data.columns import require_columns
from core.data.edges import select_edge_cases
from core.data.encoding import check_encoding_name, detect_encoding
from core.data.formats import TEXT_FORMATS, SourceFile, resolve_source
from core.data.limits import DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_LINE_BYTES, InputLimits
from core.data.readers import Table, open_table
from core.data.records import LoadCounts, RowRules, load_records
from core.data.split import SPLITS, assign_splits, validate_fractions
from core.data.stats import dataset_labels, edge_reason_counts
from core.data.textio import ByteSource, dataset_stem, file_sha256, open_bytes, read_errors
from core.errors import DuplicateImportError, ImportCancelled, UserError
from core.project import Project
from core.reporter import Reporter
from core.store.db import utc_now

if TYPE_CHECKING:
    from core.jobs.registry import RunContext

__all__ = ["ImportConfig", "ImportResult", "file_sha256", "run_import"]

_MIN_FIELD_LIMIT = 1 << 24


@dataclass(frozen=True, slots=True)
class ImportConfig:
    """What to import and how (the ``stillroom import`` options)."""

    source: Path
    text_column: str
    label_column: str | None = None
    flag_column: str | None = None  # truthy (1/true/yes/y/x) rows are user-flagged edge cases
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 13
    format: str | None = None  # csv | tsv | jsonl | parquet | excel; None = detect
    encoding: str | None = None  # None = detect
    sheet: str | None = None  # Excel sheet name; None = the first sheet
    max_chars: int = 100_000  # longer texts are an error ...
    skip_oversize: bool = False  # ... unless this is set: then they are dropped and counted
    # Hostile-file guards (core.data.limits): the longest line, row, cell or value in bytes
    # (never below 4 * max_chars), and what a compressed file may expand to.
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    name: str | None = None  # dataset name; None = the file name without extensions


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did, in counts (never contents)."""

    dataset_id: int
    name: str
    format: str
    encoding: str | None
    sha256: str
    rows_read: int
    rows_imported: int
    duplicates_dropped: int
    conflicting_labels: int  # duplicates whose label differed from the kept row's
    empty_dropped: int
    oversize_dropped: int
    split_counts: dict[str, int]  # train / validation / test / edge
    label_distribution: dict[str, int]  # classification labels over imported rows
    edge_reasons: dict[str, int]  # reason -> records with it
    labels_added: tuple[str, ...]  # adopted as the project's label set
    unlabeled_rows: int = 0  # imported rows with an empty label cell (label column given)
    warnings: tuple[str, ...] = ()  # splits of the project too small (core.evaluate.sample_size)


def run_import(
    project: Project, config: ImportConfig, *, run: RunContext, reporter: Reporter
) -> ImportResult:
    """Import one data file into ``project`` as a new dataset.

    Args:
        project: the open project.
        config: the file, its columns and the split.
        run: the run it executes under.
        reporter: receives progress about every 5,000 rows; a cancel request stops the
            import at the next batch and rolls it back.

    Returns:
        The counts of what was read, dropped, imported and how it was split.

    Raises:
        DataFileError: the file is missing, a folder, empty, header-only, binary, of a
            format that contradicts its name, damaged, not decodable, has a row longer
            than ``max_chars`` (without ``skip_oversize``), or passes a limit of
            :mod:`core.data.limits` (a line longer than ``max_line_bytes``, more than
            ``max_decompressed_bytes`` decompressed, a decompression bomb); reading stops
            as soon as one is passed.
        DuplicateImportError: a file with the same SHA-256 was imported before.
        ColumnError: a named column is missing, the text column is empty, the label
            column has fewer than two classes or labels outside the project's label set.
        ImportCancelled: the reporter asked to cancel; nothing was written.
        UserError: the split fractions or other options are invalid.
        StoreError: the project database is locked, read-only or the disk is full.
    """
    fractions = validate_fractions(config.split)
    _check_options(config)
    encoding = check_encoding_name(config.encoding) if config.encoding else None
    source = resolve_source(config.source, config.format)
    limits = InputLimits.for_import(
        config.max_line_bytes, config.max_decompressed_bytes, config.max_chars
    )
    progress = _Progress(reporter)
    sha256 = file_sha256(
        source.path,
        on_chunk=lambda done: progress.report(0.05 * done / source.size, "checking the file"),
    )
    _refuse_duplicate(project, source, sha256)
    if source.format in TEXT_FORMATS and encoding is None:
        encoding = _detect_encoding(source, limits, progress)
    if source.format not in TEXT_FORMATS:
        encoding = None
    field_limit = max(4 * config.max_chars, _MIN_FIELD_LIMIT)
    roles = {"text": config.text_column, "label": config.label_column, "flag": config.flag_column}
    with open_table(
        source, encoding=encoding, sheet=config.sheet, field_limit=field_limit, limits=limits
    ) as table:
        require_columns(table.columns, roles, source.name)
        job = _Import(project, config, source, sha256, encoding, fractions, progress)
        try:
            with project.store.transaction() as conn:
                result = job.run(conn, table)
        except sqlite3.IntegrityError:
            _refuse_duplicate(project, source, sha256)
            raise
    reporter.progress(1.0, f"imported {result.rows_imported:,} rows")
    return dataclasses.replace(result, warnings=split_warnings(project))


def split_warnings(project: Project) -> tuple[str, ...]:
    """The project's splits (every dataset together) that are too small for a verdict."""
    from core.evaluate.sample_size import sample_size_warnings

    counts = dict(project.store.conn.execute("SELECT split, COUNT(*) FROM records GROUP BY split"))
    return tuple(sample_size_warnings(counts, task=project.settings.task).values())


class _Progress:
    """Progress with a cancel check: every report is also a point where the import stops."""

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter

    def report(self, fraction: float, message: str) -> None:
        self._reporter.progress(min(1.0, max(0.0, fraction)), message)
        if self._reporter.cancel_requested():
            raise ImportCancelled("the import was cancelled; nothing was imported")


class _Import:
    """The part of an import that runs inside the transaction."""

    def __init__(
        self,
        project: Project,
        config: ImportConfig,
        source: SourceFile,
        sha256: str,
        encoding: str | None,
        fractions: tuple[float, float, float],
        progress: _Progress,
    ) -> None:
        self.project, self.config, self.source = project, config, source
        self.sha256, self.encoding, self.fractions = sha256, encoding, fractions
        self.progress = progress
        settings = project.settings
        self.classification = settings.task == "classification"
        self.project_labels = settings.labels if self.classification else ()
        self.stratify = self.classification and config.label_column is not None
        self.name = config.name or dataset_stem(source.path)

    def run(self, conn: sqlite3.Connection, table: Table) -> ImportResult:
        dataset_id = self._insert_dataset(conn)
        rules = self._rules(dataset_id, table.row_word)
        counts = load_records(
            conn,
            table.rows(rules.columns),
            rules,
            on_batch=lambda n: self.progress.report(
                0.1 + 0.8 * table.fraction_read(), f"read {n:,} rows"
            ),
        )
        imported = _count(conn, "dataset_id = ?", dataset_id)
        check_rows(self.source, self.config.text_column, table.columns, counts, imported)
        labels_added: tuple[str, ...] = ()
        if self.stratify:
            labels_added = check_labels(
                conn,
                dataset_id,
                counts,
                source_name=self.source.name,
                column=str(self.config.label_column),
                row_word=table.row_word,
                project_labels=self.project_labels,
            )
        self.progress.report(0.9, "choosing edge cases and splitting")
        select_edge_cases(conn, dataset_id, seed=self.config.seed, stratify=self.stratify)
        assign_splits(conn, dataset_id, self.fractions, self.config.seed, stratify=self.stratify)
        if _count(conn, "dataset_id = ? AND split = 'train'", dataset_id) == 0:
            raise UserError(
                "every row is flagged as an edge case, so nothing is left to train on",
                "flag fewer rows, or leave the flag column out",
            )
        result = self._result(conn, dataset_id, counts, imported, labels_added)
        self._finish(conn, result, counts)
        return result

    def _rules(self, dataset_id: int, row_word: str) -> RowRules:
        check = self.stratify and bool(self.project_labels)
        return RowRules(
            dataset_id=dataset_id,
            source_name=self.source.name,
            row_word=row_word,
            text_column=self.config.text_column,
            label_column=self.config.label_column,
            flag_column=self.config.flag_column,
            max_chars=self.config.max_chars,
            skip_oversize=self.config.skip_oversize,
            known_labels=frozenset(self.project_labels) if check else None,
        )

    def _insert_dataset(self, conn: sqlite3.Connection) -> int:
        config = self.config
        column_map = {"text": config.text_column, "label": config.label_column}
        split_config = {"fractions": list(self.fractions), "seed": config.seed}
        cursor = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "encoding, row_count, rows_read, column_map, split_config, imported_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
            (
                self.name,
                str(self.source.path),
                self.sha256,
                self.source.size,
                self.source.format,
                self.encoding,
                json.dumps({**column_map, "flag": config.flag_column}),
                json.dumps(split_config),
                utc_now(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def _result(
        self,
        conn: sqlite3.Connection,
        dataset_id: int,
        counts: LoadCounts,
        imported: int,
        labels_added: tuple[str, ...],
    ) -> ImportResult:
        splits = dict(
            conn.execute(
                "SELECT split, COUNT(*) FROM records WHERE dataset_id = ? GROUP BY split",
                (dataset_id,),
            ).fetchall()
        )
        labelled = self.config.label_column is not None
        return ImportResult(
            dataset_id=dataset_id,
            name=self.name,
            format=self.source.format,
            encoding=self.encoding,
            sha256=self.sha256,
            rows_read=counts.rows_read,
            rows_imported=imported,
            duplicates_dropped=counts.duplicates_dropped,
            conflicting_labels=counts.conflicting_labels,
            empty_dropped=counts.empty_dropped,
            oversize_dropped=counts.oversize_dropped,
            split_counts={name: int(splits.get(name, 0)) for name in (*SPLITS, "edge")},
            label_distribution=dataset_labels(conn, dataset_id) if self.stratify else {},
            edge_reasons=edge_reason_counts(conn, dataset_id),
            labels_added=labels_added,
            unlabeled_rows=(
                _count(conn, "dataset_id = ? AND label IS NULL", dataset_id) if labelled else 0
            ),
        )

    def _finish(self, conn: sqlite3.Connection, result: ImportResult, counts: LoadCounts) -> None:
        conn.execute(
            "UPDATE datasets SET row_count = ?, rows_read = ?, duplicates_dropped = ?, "
            "conflicting_labels = ?, empty_dropped = ?, oversize_dropped = ? WHERE id = ?",
            (
                result.rows_imported,
                counts.rows_read,
                counts.duplicates_dropped,
                counts.conflicting_labels,
                counts.empty_dropped,
                counts.oversize_dropped,
                result.dataset_id,
            ),
        )
        if result.labels_added:
            self.project.set_setting("labels", list(result.labels_added))
        self.project.audit("data.import", self._audit_details(result))

    def _audit_details(self, result: ImportResult) -> dict[str, Any]:
        config = self.config
        return {
            "dataset_id": result.dataset_id,
            "name": result.name,
            "path": str(self.source.path),
            "sha256": result.sha256,
            "bytes": self.source.size,
            "format": result.format,
            "encoding": result.encoding,
            "columns": {
                "text": config.text_column,
                "label": config.label_column,
                "flag": config.flag_column,
            },
            "split": {
                "fractions": list(self.fractions),
                "seed": config.seed,
                "counts": result.split_counts,
            },
            "rows_read": result.rows_read,
            "rows_imported": result.rows_imported,
            "duplicates_dropped": result.duplicates_dropped,
            "conflicting_labels": result.conflicting_labels,
            "empty_dropped": result.empty_dropped,
            "oversize_dropped": result.oversize_dropped,
            "edge_reasons": result.edge_reasons,
            "labels_added": list(result.labels_added),
        }


def _check_options(config: ImportConfig) -> None:
    if not config.text_column:
        raise UserError("the text column is not named", "pass --text COLUMN")
    if config.max_chars < 1:
        raise UserError(
            f"the text limit must be at least 1 character, got {config.max_chars}",
            "for example --max-chars 100000",
        )
    for option, value in (
        ("--max-line-bytes", config.max_line_bytes),
        ("--max-decompressed-bytes", config.max_decompressed_bytes),
    ):
        if value < 1:
            raise UserError(
                f"{option} must be at least 1 byte, got {value}", f"for example {option} 64M"
            )


def _refuse_duplicate(project: Project, source: SourceFile, sha256: str) -> None:
    earlier = project.store.query(
        "SELECT id, name, imported_at FROM datasets WHERE source_sha256 = ?", (sha256,)
    )
    if earlier:
        row = earlier[0]
        raise DuplicateImportError(
            f"{source.name} was already imported as dataset #{row['id']} {row['name']!r} "
            f"on {str(row['imported_at'])[:10]}",
            "its rows are in the project already; `stillroom status DIR` lists the datasets",
        )


def _detect_encoding(source: SourceFile, limits: InputLimits, progress: _Progress) -> str:
    with (
        open_bytes(source.path, source.compression, source.size, limits) as stream,
        read_errors(source.path, source.compression),
    ):
        return detect_encoding(_reported_chunks(stream, progress))


def _reported_chunks(stream: ByteSource, progress: _Progress) -> Iterator[bytes]:
    for chunk in stream.chunks():
        yield chunk
        progress.report(0.05 + 0.05 * stream.fraction_read(), "detecting the text encoding")


def _count(conn: sqlite3.Connection, where: str, dataset_id: int) -> int:
    return _scalar(conn, f"SELECT COUNT(*) FROM records WHERE {where}", dataset_id)


def _scalar(conn: sqlite3.Connection, sql: str, dataset_id: int) -> int:
    return int(conn.execute(sql, (dataset_id,)).fetchone()[0])
