"""Streaming readers: every format yields ``(row number, cells)`` one row at a time.

Nothing here holds more than one row (plus a 64 KiB sniffing sample, and for JSON Lines the
first 1,000 objects while the column names are gathered), so a file of millions of rows
imports in bounded memory; and no row may be longer than the line limit
(:mod:`core.data.limits`), so neither can a file of one enormous row. Row numbers are
1-based and count data rows after the header (for JSON Lines: line numbers), so a user can
find the row a message names.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import sys
import zlib
from collections.abc import Iterator, Sequence
from typing import Protocol, TextIO

from core.data.formats import SourceFile
from core.data.limits import InputLimits, line_too_long
from core.data.textio import ByteSource, open_bytes
from core.errors import DataFileError

Row = tuple[int, tuple[object, ...]]

DELIMITERS = ",;\t|"
SNIFF_CHARS = 64 * 1024
JSONL_COLUMN_SCAN = 1000
_READ_ERRORS = (csv.Error, UnicodeDecodeError, OSError, EOFError, zlib.error)


class Table(Protocol):
    """An open source file: its column names, and its rows on demand."""

    columns: tuple[str, ...]
    row_word: str  # how messages name a row: "row", or "line" for JSON Lines

    def rows(self, wanted: Sequence[str]) -> Iterator[Row]:
        """The cells of the ``wanted`` columns, row by row, in file order."""
        ...

    def fraction_read(self) -> float:
        """How far through the file reading is (0..1), for progress."""
        ...


@contextlib.contextmanager
def open_table(
    source: SourceFile,
    *,
    encoding: str | None,
    sheet: str | None = None,
    field_limit: int,
    limits: InputLimits | None = None,
) -> Iterator[Table]:
    """Open ``source`` with the reader for its format.

    Args:
        source: the resolved file.
        encoding: the text encoding (text formats only).
        sheet: the Excel sheet, or None for the first.
        field_limit: the longest CSV field the parser accepts, in characters.
        limits: the line and decompressed-size limits; None for the defaults.

    Raises:
        DataFileError: the file cannot be read, has no header / no rows, or passes a limit.
    """
    limits = limits or InputLimits()
    if source.format == "parquet":
        from core.data.binary_readers import open_parquet

        with open_parquet(source, limits) as parquet:
            yield parquet
        return
    if source.format == "excel":
        from core.data.binary_readers import open_excel

        with open_excel(source, sheet, limits) as workbook:
            yield workbook
        return
    text_encoding = encoding or "utf-8"
    if source.format == "jsonl":
        with _open_text(source, text_encoding, limits) as (text, progress):
            yield JsonlTable(source, text, progress, text_encoding)
        return
    delimiter = "\t" if source.format == "tsv" else sniff_delimiter(source, text_encoding, limits)
    with (
        _field_size_limit(field_limit),
        _open_text(source, text_encoding, limits) as (text, progress),
    ):
        lines = _RowLines(text, limits.max_line_bytes)
        yield DelimitedTable(source, lines, progress, delimiter, text_encoding)


def sniff_delimiter(source: SourceFile, encoding: str, limits: InputLimits | None = None) -> str:
    """The delimiter of a delimited text file, among ``, ; tab |``.

    :class:`csv.Sniffer` decides over the first 64 KiB; when it cannot, or picks a
    character that the header line does not contain, the candidate that the header line
    holds most often wins (a comma for a one-column file).
    """
    with _open_text(source, encoding, limits or InputLimits()) as (text, _):
        try:
            sample = text.read(SNIFF_CHARS)
        except _READ_ERRORS as exc:
            raise translate_read_error(exc, source, encoding, "the first rows") from exc
    sample = sample.removeprefix("\ufeff")
    whole_lines = sample[: sample.rfind("\n") + 1] or sample
    header = next((line for line in whole_lines.splitlines() if line.strip()), "")
    try:
        dialect = csv.Sniffer().sniff(whole_lines, delimiters=DELIMITERS)
        if dialect.delimiter in header:
            return str(dialect.delimiter)
    except csv.Error:
        pass
    best = max(DELIMITERS, key=header.count)
    return best if header.count(best) else ","


class _RowTooLong(Exception):
    """Raised by :class:`_RowLines`; the table turns it into a message naming the row."""


class _RowLines:
    """The lines of a text for :class:`csv.reader`, stopping a row longer than the line limit.

    The stream refuses a long *line*; a row whose quoted fields span many short lines
    (millions of ``"a\n",`` cells) would still grow one list without end, so the
    characters read since the last row ended are counted too (the table resets them).
    """

    def __init__(self, text: TextIO, limit: int) -> None:
        self._text, self.limit = text, limit
        self.pending = 0

    def __iter__(self) -> Iterator[str]:
        limit = self.limit
        for line in self._text:
            self.pending += len(line)
            if self.pending > limit:
                raise _RowTooLong
            yield line


class DelimitedTable:
    """CSV or TSV with a header row; quoted fields may hold delimiters and newlines."""

    row_word = "row"

    def __init__(
        self,
        source: SourceFile,
        lines: _RowLines,
        progress: ByteSource,
        delimiter: str,
        encoding: str,
    ) -> None:
        self._source, self._progress, self._encoding = source, progress, encoding
        self.delimiter = delimiter
        self._lines = lines
        self._reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True)
        header = self._header()
        self.columns = tuple(name.removeprefix("\ufeff").strip() for name in header)

    def _header(self) -> list[str]:
        try:
            for record in self._reader:
                self._lines.pending = 0
                if any(cell.strip() for cell in record):
                    return record
        except _RowTooLong:
            raise line_too_long(self._source.name, "the header", self._lines.limit) from None
        except _READ_ERRORS as exc:
            raise translate_read_error(exc, self._source, self._encoding, "the header") from exc
        raise DataFileError(
            f"{self._source.name} holds only blank lines", "export the data again and check it"
        )

    def rows(self, wanted: Sequence[str]) -> Iterator[Row]:
        indexes = [self.columns.index(name) for name in wanted]
        width = len(self.columns)
        number = 0
        lines = self._lines
        try:
            for record in self._reader:
                number += 1
                lines.pending = 0
                if not record:
                    continue
                if len(record) > width and any(cell.strip() for cell in record[width:]):
                    raise self._ragged(number, len(record), width)
                yield number, tuple(record[i] if i < len(record) else "" for i in indexes)
        except _RowTooLong:
            raise line_too_long(self._source.name, f"row {number + 1}", lines.limit) from None
        except _READ_ERRORS as exc:
            where = f"row {number + 1}"
            raise translate_read_error(exc, self._source, self._encoding, where) from exc

    def fraction_read(self) -> float:
        return self._progress.fraction_read()

    def _ragged(self, number: int, fields: int, width: int) -> DataFileError:
        shown = "a tab" if self.delimiter == "\t" else repr(self.delimiter)
        return DataFileError(
            f"{self._source.name}: row {number} has {fields} fields but the header has {width} "
            f"(delimiter {shown})",
            "put fields that contain the delimiter in double quotes, or pass --format to "
            "choose the right delimiter (csv or tsv)",
        )


class JsonlTable:
    """JSON Lines: one JSON object per line; blank lines are skipped.

    The column names are the keys of the first 1,000 objects, in order of appearance;
    a key missing from a row reads as an empty cell.
    """

    row_word = "line"

    def __init__(
        self, source: SourceFile, text: TextIO, progress: ByteSource, encoding: str
    ) -> None:
        self._source, self._progress, self._encoding = source, progress, encoding
        self._lines = enumerate(text, start=1)
        self._scanned = list(itertools.islice(self._objects(), JSONL_COLUMN_SCAN))
        if not self._scanned:
            raise DataFileError(
                f"{source.name} holds only blank lines", "export the data again and check it"
            )
        keys: dict[str, None] = {}
        for _, obj in self._scanned:
            keys.update(dict.fromkeys(obj))
        self.columns = tuple(keys)

    def rows(self, wanted: Sequence[str]) -> Iterator[Row]:
        scanned, self._scanned = self._scanned, []
        for number, obj in itertools.chain(scanned, self._objects()):
            yield number, tuple(obj.get(name) for name in wanted)

    def fraction_read(self) -> float:
        return self._progress.fraction_read()

    def _objects(self) -> Iterator[tuple[int, dict[str, object]]]:
        number = 0
        try:
            for number, line in self._lines:
                if number == 1:
                    # A BOM the codec kept, when the user named "utf-8" for a utf-8-sig file.
                    line = line.removeprefix("\ufeff")
                if not line.strip():
                    continue
                yield number, self._parse(number, line)
        except _READ_ERRORS as exc:
            where = f"line {number + 1}"
            raise translate_read_error(exc, self._source, self._encoding, where) from exc

    def _parse(self, number: int, line: str) -> dict[str, object]:
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise DataFileError(
                f"{self._source.name}: line {number} is not valid JSON",
                'each line must hold one JSON object, such as {"text": "...", "label": "..."}',
            ) from exc
        if not isinstance(value, dict):
            kind = "a list" if isinstance(value, list) else "a single value"
            raise DataFileError(
                f"{self._source.name}: line {number} holds {kind}, not a JSON object",
                'each line must hold one JSON object, such as {"text": "...", "label": "..."}',
            )
        return value


def translate_read_error(
    exc: BaseException, source: SourceFile, encoding: str, where: str
) -> DataFileError:
    """A :class:`DataFileError` for a failure while reading text; never quotes the data."""
    name = source.name
    if isinstance(exc, UnicodeDecodeError):
        return DataFileError(
            f"{name} is not valid {encoding} text (at {where})",
            "leave --encoding out to detect the encoding, or pass the one the file was saved in",
        )
    if isinstance(exc, csv.Error):
        reason = str(exc)
        if "field larger than field limit" in reason:
            return DataFileError(
                f"{name}: a field at {where} is far longer than the text limit",
                "check that every opening double quote is closed: an unclosed quote makes "
                "the rest of the file one field",
            )
        if "NUL" in reason:
            return DataFileError(
                f"{name} holds a NUL byte at {where}; it is not plain text",
                "export the data again as CSV, or pass --encoding if it is UTF-16",
            )
        return DataFileError(
            f"{name}: {where} cannot be parsed as delimited text",
            "check the quoting around that row, or export the file again",
        )
    if source.compression is not None and not isinstance(exc, PermissionError):
        return DataFileError(
            f"{name} is damaged or not really {source.compression}-compressed (at {where})",
            "decompress it yourself to check it, then import the decompressed file",
        )
    return DataFileError(
        f"{name} could not be read (at {where})", "copy the file to a local disk and try again"
    )


@contextlib.contextmanager
def _open_text(
    source: SourceFile, encoding: str, limits: InputLimits
) -> Iterator[tuple[TextIO, ByteSource]]:
    with open_bytes(source.path, source.compression, source.size, limits) as progress:
        # newline="" leaves "\r\n" inside quoted fields to the csv module, as it requires.
        text = io.TextIOWrapper(progress.stream, encoding=encoding, newline="")  # type: ignore[type-var]
        try:
            yield text, progress
        finally:
            text.detach()


@contextlib.contextmanager
def _field_size_limit(limit: int) -> Iterator[None]:
    """Set the csv module's per-field limit (131,072 by default) while a file is read.

    The limit must exceed the text limit so that an oversize row reaches our own check
    (and ``--skip-oversize``) instead of failing inside the parser; it stays finite so a
    stray unclosed quote cannot pull a whole multi-gigabyte file into one string.
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(min(limit, 2**31 - 1, sys.maxsize))
    try:
        yield
    finally:
        csv.field_size_limit(previous)
