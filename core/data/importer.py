"""The data import stage: one file in, one dataset of split records out (DESIGN §4).

:func:`run_import` checks the file (existence, format by content, SHA-256 against earlier
imports, encoding), then in **one transaction** streams its rows into ``records``, checks
labels, chooses the edge-case set (:mod:`core.store.edges`), splits the rest
(:mod:`core.data.split`), fills in the ``datasets`` row and writes the audit entry. Any
error or a cancel rolls the whole transaction back: a failed import leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.data.checks import check_labels, check_rows
from core.data.columns import require_columns
from core.data.encoding import check_encoding_name, detect_encoding
from core.data.formats import TEXT_FORMATS, SourceFile, resolve_source
from core.data.limits import DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_LINE_BYTES, InputLimits
from core.data.readers import Table, open_table
from core.data.records import LoadCounts, RowRules, load_records
from core.data.split import SPLITS, assign_splits, validate_fractions
from core.data.summary import edge_reason_counts
from core.data.textio import ByteSource, dataset_stem, file_sha256, open_bytes, read_errors
from core.errors import DuplicateImportError, ImportCancelled, UserError
from core.project import Project
from core.reporter import Reporter
from core.store import records
from core.store.edges import select_edge_cases

if TYPE_CHECKING:
    from core.jobs.registry import RunContext

__all__ = ["ImportConfig", "ImportResult", "file_sha256", "run_import"]

_MIN_FIELD_LIMIT = 1 << 24
# The counts an import keeps, under the same name in LoadCounts, ImportResult, the datasets
# table and the audit entry.
_COUNTS = ("rows_read", "duplicates_dropped", "conflicting_labels", "empty_dropped",
           "oversize_dropped")  # fmt: skip


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
            with project.store.transaction():
                result = job.run(table)
        except sqlite3.IntegrityError:
            _refuse_duplicate(project, source, sha256)
            raise
    reporter.progress(1.0, f"imported {result.rows_imported:,} rows")
    return dataclasses.replace(result, warnings=split_warnings(project))


def split_warnings(project: Project) -> tuple[str, ...]:
    """The project's splits (every dataset together) that are too small for a verdict."""
    from core.evaluate.sample_size import sample_size_warnings

    counts = records.split_counts(project.store)
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
        self.columns = {
            "text": config.text_column,
            "label": config.label_column,
            "flag": config.flag_column,
        }

    def run(self, table: Table) -> ImportResult:
        store = self.project.store
        dataset_id = self._insert_dataset()
        rules = self._rules(dataset_id, table.row_word)
        counts = load_records(
            store,
            table.rows(rules.columns),
            rules,
            on_batch=lambda n: self.progress.report(
                0.1 + 0.8 * table.fraction_read(), f"read {n:,} rows"
            ),
        )
        imported = records.count_records(store, dataset_id)
        check_rows(self.source, self.config.text_column, table.columns, counts, imported)
        labels_added: tuple[str, ...] = ()
        if self.stratify:
            labels_added = check_labels(
                store,
                dataset_id,
                counts,
                source_name=self.source.name,
                column=str(self.config.label_column),
                row_word=table.row_word,
                project_labels=self.project_labels,
            )
        self.progress.report(0.9, "choosing edge cases and splitting")
        select_edge_cases(store, dataset_id, seed=self.config.seed, stratify=self.stratify)
        assign_splits(store, dataset_id, self.fractions, self.config.seed, stratify=self.stratify)
        if records.count_records(store, dataset_id, split="train") == 0:
            raise UserError(
                "every row is flagged as an edge case, so nothing is left to train on",
                "flag fewer rows, or leave the flag column out",
            )
        result = self._result(dataset_id, counts, imported, labels_added)
        self._finish(result)
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

    def _insert_dataset(self) -> int:
        return records.insert_dataset(
            self.project.store,
            name=self.name,
            source=(str(self.source.path), self.sha256, self.source.size),
            format=self.source.format,
            encoding=self.encoding,
            columns=self.columns,
            split={"fractions": list(self.fractions), "seed": self.config.seed},
        )

    def _result(
        self, dataset_id: int, counts: LoadCounts, imported: int, labels_added: tuple[str, ...]
    ) -> ImportResult:
        store = self.project.store
        splits = records.split_counts(store, dataset_id)
        labels = records.label_counts(store, dataset_id)
        labelled = self.config.label_column is not None
        return ImportResult(
            dataset_id=dataset_id,
            name=self.name,
            format=self.source.format,
            encoding=self.encoding,
            sha256=self.sha256,
            rows_imported=imported,
            **{name: getattr(counts, name) for name in _COUNTS},
            split_counts={name: splits.get(name, 0) for name in (*SPLITS, "edge")},
            label_distribution=(
                {label: n for label, n in labels.items() if label is not None}
                if self.stratify
                else {}
            ),
            edge_reasons=edge_reason_counts(store, dataset_id),
            labels_added=labels_added,
            unlabeled_rows=labels.get(None, 0) if labelled else 0,
        )

    def _finish(self, result: ImportResult) -> None:
        counted = {name: getattr(result, name) for name in _COUNTS}
        records.finish_dataset(
            self.project.store, result.dataset_id, row_count=result.rows_imported, **counted
        )
        if result.labels_added:
            self.project.set_setting("labels", list(result.labels_added))
        split = {"fractions": list(self.fractions), "seed": self.config.seed}
        self.project.audit("data.import", {
            "dataset_id": result.dataset_id, "name": result.name,
            "path": str(self.source.path), "sha256": result.sha256, "bytes": self.source.size,
            "format": result.format, "encoding": result.encoding, "columns": self.columns,
            "split": {**split, "counts": result.split_counts},
            "rows_imported": result.rows_imported, **counted,
            "edge_reasons": result.edge_reasons, "labels_added": list(result.labels_added),
        })  # fmt: skip


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
    earlier = next(iter(records.datasets(project.store, sha256)), None)
    if earlier is not None:
        raise DuplicateImportError(
            f"{source.name} was already imported as dataset #{earlier.id} {earlier.name!r} "
            f"on {earlier.imported_at[:10]}",
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
