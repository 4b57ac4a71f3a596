"""Deciding what kind of file a source is: from its content first, its name second.

The extension (or ``--format``) says what the user expects; the first bytes say what the
file is. When they disagree the import stops with a message naming both, because reading
a workbook as CSV or a PDF as text produces garbage that only shows up at training time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.data.encoding import HEAD_BYTES, bom_encoding, decode_head, guess_utf16
from core.data.textio import open_bytes, read_errors, split_suffixes
from core.errors import DataFileError, UserError

FORMATS = ("csv", "tsv", "jsonl", "parquet", "excel")
TEXT_FORMATS = ("csv", "tsv", "jsonl")

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}
_FORMAT_NAMES = {
    "csv": "CSV",
    "tsv": "TSV",
    "jsonl": "JSON Lines",
    "parquet": "Parquet",
    "excel": "an Excel workbook",
}
_FORMAT_EXTENSIONS = {
    "csv": ".csv",
    "tsv": ".tsv",
    "jsonl": ".jsonl",
    "parquet": ".parquet",
    "excel": ".xlsx",
}
# Magic numbers, with what the file then is and what we can do with it.
_MAGIC = (
    (b"PAR1", "parquet"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"\x1f\x8b", "gzip"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"%PDF-", "pdf"),
    (b"\x7fELF", "elf"),
)
_KIND_NAMES = {
    "parquet": "a Parquet file",
    "zip": "an Excel workbook or a zip archive",
    "gzip": "a gzip-compressed file",
    "bz2": "a bzip2-compressed file",
    "png": "a PNG image",
    "pdf": "a PDF document",
    "elf": "a program",
    "binary": "a binary file",
    "text": "a text file",
}
_KIND_FORMAT = {"parquet": "parquet", "zip": "excel"}
_COMPRESSION_MAGIC = {"gzip": b"\x1f\x8b", "bz2": b"BZh"}
_COMPRESSION_SUFFIX = {"gzip": ".gz", "bz2": ".bz2"}


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A data file that exists, is not empty, and whose format is known."""

    path: Path
    format: str
    compression: str | None
    size: int

    @property
    def name(self) -> str:
        return self.path.name


def resolve_source(path: Path, declared: str | None = None) -> SourceFile:
    """Check that ``path`` is a readable data file and decide its format.

    Args:
        path: the file the user named.
        declared: the format the user asked for (``--format``), or None to detect it.

    Raises:
        UserError: ``declared`` is not a known format.
        DataFileError: the file is missing, a folder, empty, binary, compressed in a way
            that is not supported, or its content contradicts its extension or ``declared``.
    """
    if declared is not None and declared not in FORMATS:
        raise UserError(f"unknown format {declared!r}", f"choose one of: {', '.join(FORMATS)}")
    path, size = _existing_file(path)
    extension, compression = split_suffixes(path)
    expected = declared or _EXTENSIONS.get(extension)
    if compression is not None and expected in ("parquet", "excel"):
        raise DataFileError(
            f"{path.name}: compressed {_FORMAT_NAMES[expected]} files are not supported",
            "decompress it first; Parquet and .xlsx files are already compressed inside",
        )
    head = _read_head(path, compression, size)
    kind = content_kind(head, path if compression is None else None)
    if kind == "ole":
        raise DataFileError(
            f"{path.name} is a legacy Excel .xls workbook (or a password-protected one)",
            "open it in Excel or LibreOffice and save it as .xlsx or CSV, without a password",
        )
    found = _format_for(kind, head, path, expected)
    return SourceFile(path=path, format=found, compression=compression, size=size)


def content_kind(head: bytes, path: Path | None = None) -> str:
    """What the first bytes of a file say it is: a key of ``_KIND_NAMES``, or ``ole``.

    Args:
        head: the first bytes (decompressed).
        path: the uncompressed file, to confirm a Parquet footer; None if compressed.
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "parquet" and _plain_text_starting_par1(head, path):
                break
            return kind
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bz2"
    if b"\x00" in head and bom_encoding(head) is None and guess_utf16(head) is None:
        return "binary"
    return "text"


def _existing_file(path: Path) -> tuple[Path, int]:
    path = Path(path).expanduser()
    if not path.exists():
        raise DataFileError(
            f"{path} was not found", "check the path; a relative path is taken from here"
        )
    if path.is_dir():
        raise DataFileError(
            f"{path} is a folder, not a file", "pass the data file inside it, not the folder"
        )
    path = path.resolve()
    with read_errors(path, None):
        size = path.stat().st_size
    if size == 0:
        raise DataFileError(f"{path.name} is empty", "export the data again and check it")
    return path, size


def _read_head(path: Path, compression: str | None, size: int) -> bytes:
    if compression is not None:
        with read_errors(path, None), path.open("rb") as handle:
            magic = handle.read(4)
        if not magic.startswith(_COMPRESSION_MAGIC[compression]):
            plain = path.name[: path.name.lower().rfind(".")]
            raise DataFileError(
                f"{path.name} is named as {compression}-compressed but is not",
                f"rename it to {plain}",
            )
    with open_bytes(path, compression, size) as source, read_errors(path, compression):
        head = source.stream.read(HEAD_BYTES)
    if not head:
        raise DataFileError(f"{path.name} is empty", "export the data again and check it")
    return head


def _plain_text_starting_par1(head: bytes, path: Path | None) -> bool:
    """True for a text file whose first cell happens to be "PAR1" (no NULs, no footer)."""
    if b"\x00" in head or path is None:
        return False
    with read_errors(path, None), path.open("rb") as handle:
        handle.seek(-4, 2)
        return handle.read(4) != b"PAR1"


def _format_for(kind: str, head: bytes, path: Path, expected: str | None) -> str:
    if kind in _KIND_FORMAT:
        found = _KIND_FORMAT[kind]
        if expected in (None, found):
            return found
        raise _contradiction(path, kind, expected, found)
    if kind in _COMPRESSION_SUFFIX:
        suffix = _COMPRESSION_SUFFIX[kind]
        raise DataFileError(
            f"{path.name} looks like {_KIND_NAMES[kind]}, not a data file",
            f"if it holds CSV, TSV or JSON Lines, name it so, e.g. data.csv{suffix}",
        )
    if kind != "text":
        raise DataFileError(
            f"{path.name} looks like {_KIND_NAMES[kind]}, not a data file",
            "pick the CSV, TSV, JSON Lines, Parquet or Excel file that holds your data",
        )
    if expected in ("parquet", "excel"):
        raise _contradiction(path, kind, expected, None)
    text = decode_head(head).lstrip()
    if not text:
        raise DataFileError(f"{path.name} is empty", "export the data again and check it")
    if text.startswith("[") and expected in (None, "jsonl"):
        raise DataFileError(
            f"{path.name} holds a JSON array, not JSON Lines",
            'write one JSON object per line, such as {"text": "...", "label": "..."}',
        )
    if expected is not None:
        return expected
    return "jsonl" if text.startswith("{") else "csv"


def _contradiction(path: Path, kind: str, expected: str, found: str | None) -> DataFileError:
    what = _KIND_NAMES[kind]
    if found is not None:
        extension = _FORMAT_EXTENSIONS[found]
        hint = f"rename it to {extension} or pass --format {found}"
        if kind == "zip":
            hint = f"if it is a workbook, {hint}; if it is a zip archive, extract the data file"
    else:
        hint = "rename it to .csv, .tsv or .jsonl to match its content, or pass --format csv"
    return DataFileError(f"{path.name} looks like {what}, not {_FORMAT_NAMES[expected]}", hint)
