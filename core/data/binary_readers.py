"""Parquet and Excel readers, streaming like the text ones (see :mod:`core.data.readers`).

pyarrow and openpyxl are imported inside the functions that need them, so importing the
data package (and ``stillroom --help``) stays fast. Both libraries inflate whole parts in
memory, so the sizes a file declares are checked against the limits first
(:mod:`core.data.declared_sizes`).
"""

from __future__ import annotations

import contextlib
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import Any
from xml.etree.ElementTree import ParseError

from core.data.cells import UnsupportedCell, cell_text
from core.data.declared_sizes import check_parquet, check_workbook
from core.data.formats import SourceFile
from core.data.limits import InputLimits
from core.data.readers import Row
from core.errors import DataFileError

PARQUET_BATCH_ROWS = 5000
_WORKBOOK_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ValueError,
    TypeError,
    OSError,
    ParseError,
)


@contextlib.contextmanager
def open_parquet(source: SourceFile, limits: InputLimits) -> Iterator[ParquetTable]:
    """Open a Parquet file; rows are read in record batches of only the wanted columns.

    Raises:
        DataFileError: the file is damaged or not Parquet; reading its rows raises it for
            column chunks that declare more than ``limits`` allow.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(source.path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _damaged_parquet(source) from exc
    try:
        yield ParquetTable(source, handle, limits)
    finally:
        handle.close()


class ParquetTable:
    """A Parquet file; every row counts as a data row (there is no header row)."""

    row_word = "row"

    def __init__(self, source: SourceFile, handle: Any, limits: InputLimits) -> None:
        self._source, self._file, self._limits = source, handle, limits
        self.columns: tuple[str, ...] = tuple(handle.schema_arrow.names)
        self._total = int(handle.metadata.num_rows)
        self._done = 0

    def rows(self, wanted: Sequence[str]) -> Iterator[Row]:
        import pyarrow as pa

        unique = list(dict.fromkeys(wanted))
        check_parquet(self._source.name, self._file.metadata, unique, self._limits)
        number = 0
        batches = self._file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=unique)
        try:
            for batch in batches:
                cells = [batch.column(unique.index(name)).to_pylist() for name in wanted]
                for values in zip(*cells, strict=True):
                    number += 1
                    yield number, values
                self._done += batch.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise _damaged_parquet(self._source) from exc

    def fraction_read(self) -> float:
        return min(1.0, self._done / self._total) if self._total else 1.0


@contextlib.contextmanager
def open_excel(source: SourceFile, sheet: str | None, limits: InputLimits) -> Iterator[ExcelTable]:
    """Open an .xlsx workbook read-only (cached formula values); the first row is the header.

    Raises:
        DataFileError: the file is not a readable workbook, its parts would inflate past
            ``limits``, the sheet does not exist, or the sheet is empty.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    with source.path.open("rb") as handle:
        # A file handle rather than the path: openpyxl refuses names it does not know,
        # such as an .xlsx saved as .xls, though the content is what matters.
        try:
            with zipfile.ZipFile(handle) as archive:
                check_workbook(archive, source.name, limits)
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (*_WORKBOOK_ERRORS, InvalidFileException) as exc:
            raise DataFileError(
                f"{source.name} is a zip archive but not a readable Excel .xlsx workbook",
                "open it in Excel or LibreOffice and save it as .xlsx or CSV",
            ) from exc
        try:
            yield ExcelTable(source, _worksheet(source, workbook, sheet))
        finally:
            workbook.close()


class ExcelTable:
    """One worksheet. Row numbers count the rows below the header row."""

    row_word = "row"

    def __init__(self, source: SourceFile, worksheet: Any) -> None:
        self._source = source
        self._title = str(worksheet.title)
        self._rows = worksheet.iter_rows(values_only=True)
        self._total = _row_count(worksheet)
        self._read = 0
        header = self._header()
        self.columns = tuple(_header_name(value) for value in header)

    def rows(self, wanted: Sequence[str]) -> Iterator[Row]:
        indexes = [self.columns.index(name) for name in wanted]
        number = 0
        try:
            for values in self._rows:
                number += 1
                self._read += 1
                if all(value is None for value in values):
                    continue
                yield number, tuple(values[i] if i < len(values) else None for i in indexes)
        except _WORKBOOK_ERRORS as exc:
            raise self._damaged() from exc

    def fraction_read(self) -> float:
        return min(1.0, self._read / self._total) if self._total else 0.0

    def _header(self) -> tuple[object, ...]:
        try:
            for values in self._rows:
                self._read += 1
                if any(value is not None for value in values):
                    return tuple(values)
        except _WORKBOOK_ERRORS as exc:
            raise self._damaged() from exc
        raise DataFileError(
            f"{self._source.name}: sheet {self._title!r} is empty",
            "pick the sheet that holds the data with --sheet",
        )

    def _damaged(self) -> DataFileError:
        return DataFileError(
            f"{self._source.name}: sheet {self._title!r} could not be read; the workbook "
            "may be damaged",
            "open it in Excel or LibreOffice and save it again as .xlsx or CSV",
        )


def _worksheet(source: SourceFile, workbook: Any, sheet: str | None) -> Any:
    names = [str(ws.title) for ws in workbook.worksheets]
    if not names:
        raise DataFileError(f"{source.name} has no worksheets", "save the data in a worksheet")
    if sheet is None:
        return workbook.worksheets[0]
    if sheet not in names:
        raise DataFileError(
            f"{source.name} has no sheet named {sheet!r}", f"its sheets are: {', '.join(names)}"
        )
    return workbook.worksheets[names.index(sheet)]


def _row_count(worksheet: Any) -> int:
    try:
        count = worksheet.max_row
    except (*_WORKBOOK_ERRORS, AttributeError):
        return 0
    # Some writers leave a dimension of "A1" behind; a count of 1 means "unknown" too.
    return int(count) if isinstance(count, int) and count > 1 else 0


def _header_name(value: object) -> str:
    try:
        return cell_text(value).strip()
    except UnsupportedCell:
        return ""


def _damaged_parquet(source: SourceFile) -> DataFileError:
    return DataFileError(
        f"{source.name} is not a readable Parquet file; it may be damaged or truncated",
        "export it again, or export the data as CSV",
    )
