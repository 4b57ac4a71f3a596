"""A quick look at a data file before importing it: columns, first rows, format, encoding."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from core.data.cells import UnsupportedCell, cell_text
from core.data.encoding import check_encoding_name, detect_encoding
from core.data.formats import TEXT_FORMATS, SourceFile, resolve_source
from core.data.readers import open_table
from core.data.textio import open_bytes, read_errors

PREVIEW_ENCODING_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class Preview:
    """The head of a data file, as the GUI shows it before an import."""

    path: Path
    format: str
    encoding: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def preview(
    path: Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    rows: int = 20,
) -> Preview:
    """The columns and first ``rows`` rows of a file, with its detected format and encoding.

    The encoding is decided from the first 4 MiB only, to stay quick on big files; the
    import checks the whole file and may settle on another (reported in its result).

    Raises:
        DataFileError: the file cannot be read as a dataset (as for an import).
        UserError: the format or encoding name is unknown.
    """
    source = resolve_source(path, format)
    used = None
    if source.format in TEXT_FORMATS:
        used = check_encoding_name(encoding) if encoding else _head_encoding(source)
    with open_table(source, encoding=used, sheet=sheet, field_limit=1 << 24) as table:
        columns = tuple(name for name in dict.fromkeys(table.columns) if name)
        head = itertools.islice(table.rows(columns), max(0, rows))
        shown = tuple(tuple(_shown(cell) for cell in cells) for _, cells in head)
    return Preview(source.path, source.format, used, columns, shown)


def _head_encoding(source: SourceFile) -> str:
    with (
        open_bytes(source.path, source.compression, source.size) as stream,
        read_errors(source.path, source.compression),
    ):
        chunks = stream.chunks()
        limited = itertools.islice(chunks, PREVIEW_ENCODING_BYTES // (1 << 20))
        return detect_encoding(limited)


def _shown(value: object) -> str:
    try:
        return cell_text(value)
    except UnsupportedCell as exc:
        return f"<{exc.kind}>"
