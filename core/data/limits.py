"""Caps on how far a data file may expand while it is read, so a hostile file is refused early.

A 1 MB ``.csv.gz`` can hold a single 1 GB line, and a 300 KB ``.xlsx`` a 300 MB cell:
read naively, either costs gigabytes of memory before any check sees a row. Every reader
therefore enforces, while it streams:

- **the line limit** (``--max-line-bytes``, default 16 MiB): no line of a CSV, TSV or JSON
  Lines file, no CSV row spanning lines inside quotes, no Excel cell or XML tag and no
  Parquet value may be longer. It is raised to ``4 * max_chars`` when that is larger, so a
  text within ``--max-chars`` always fits;
- **the decompressed-size limit** (``--max-decompressed-bytes``, default 8 GiB): a ``.gz``
  or ``.bz2`` file may not decompress to more, nor may the members of an ``.xlsx`` zip or
  the columns read from a Parquet file declare more;
- **the compression ratio** of an ``.xlsx`` member or a Parquet column chunk over 16 MiB
  may not exceed 100:1; real worksheets and columns stay far below it, zip bombs reach
  1,000:1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import DataFileError, UserError

DEFAULT_MAX_LINE_BYTES = 16 << 20
DEFAULT_MAX_DECOMPRESSED_BYTES = 8 << 30
MAX_COMPRESSION_RATIO = 100
RATIO_CHECKED_FROM_BYTES = 16 << 20
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class InputLimits:
    """The caps a reader enforces (see the module docstring)."""

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES

    @classmethod
    def for_import(
        cls, max_line_bytes: int, max_decompressed_bytes: int, max_chars: int
    ) -> InputLimits:
        """The limits of an import: the line limit never below what ``max_chars`` needs."""
        return cls(max(max_line_bytes, 4 * max_chars), max_decompressed_bytes)


def parse_size(text: str) -> int:
    """``"16M"`` → 16,777,216: a byte count with an optional K, M, G or T (powers of 1024).

    Raises:
        UserError: not a positive whole number with such a unit.
    """
    match = _SIZE.match(text)
    value = int(match.group(1)) * _UNITS[match.group(2).upper()] if match else 0
    if value < 1:
        raise UserError(
            f"{text!r} is not a size in bytes", "write a whole number, optionally with K, M or G"
        )
    return value


def format_size(size: int) -> str:
    """``16777216`` → ``"16 MiB"``; exact for the powers of 1024 the defaults use."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size:,} bytes"


def line_too_long(name: str, where: str, limit: int) -> DataFileError:
    """The refusal of a line, row, cell or value longer than the line limit."""
    return DataFileError(
        f"{name}: {where} is longer than the line limit of {format_size(limit)}; reading "
        "stopped there",
        "an unclosed double quote or a file that is not line-based can cause this; if the "
        f"file really holds such long lines, raise the limit with --max-line-bytes "
        f"(e.g. --max-line-bytes {_doubled(limit)})",
    )


def too_large_decompressed(name: str, what: str, limit: int) -> DataFileError:
    """The refusal of a file that expands to more than the decompressed-size limit."""
    return DataFileError(
        f"{name}: {what} more than the decompressed-size limit of {format_size(limit)}; "
        "reading stopped there",
        "if the data really is that large, raise the limit with --max-decompressed-bytes "
        f"(e.g. --max-decompressed-bytes {_doubled(limit)})",
    )


def compression_bomb(name: str, what: str, ratio: float) -> DataFileError:
    """The refusal of a zip or Parquet member that expands far more than real data does."""
    return DataFileError(
        f"{name}: {what} expands {ratio:,.0f}-fold when decompressed (more than the "
        f"{MAX_COMPRESSION_RATIO}-fold real data reaches); it looks like a decompression bomb "
        "and was not opened",
        "if the file is genuine, open it in the program that wrote it and export it as CSV",
    )


def _doubled(limit: int) -> str:
    doubled = 2 * limit
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if doubled % factor == 0:
            return f"{doubled // factor}{unit}"
    return str(doubled)
