"""Refusing an ``.xlsx`` or Parquet file from the sizes it declares, before it is opened.

openpyxl and pyarrow inflate whole XML parts, cells and column pages in memory, where our
own byte-level checks (:class:`core.data.textio.CappedStream`) cannot reach. Both formats
declare their sizes up front, though: a zip's central directory lists each member's
compressed and uncompressed size (and :mod:`zipfile` never inflates a member past what it
declares: it stops and fails the CRC check), a Parquet footer each column chunk's. So the
limits of :mod:`core.data.limits` are checked on those numbers first, and an ``.xlsx``
part bigger than the line limit is scanned once, streaming, for a cell or tag longer than
it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from typing import Any

from core.data.limits import (
    MAX_COMPRESSION_RATIO,
    RATIO_CHECKED_FROM_BYTES,
    InputLimits,
    compression_bomb,
    line_too_long,
    too_large_decompressed,
)
from core.data.textio import CHUNK_BYTES

_MARKUP_START = b"<"
# What may precede the first "<" of an XML part: byte-order marks, whitespace, and the
# NULs of UTF-16.
_XML_LEAD = b"\xef\xbb\xbf\xff\xfe \t\r\n\x00"


def check_workbook(archive: zipfile.ZipFile, name: str, limits: InputLimits) -> None:
    """Refuse a workbook whose parts would inflate past the limits.

    Args:
        archive: the open ``.xlsx`` zip.
        name: the file name, for messages.
        limits: the line and decompressed-size limits.

    Raises:
        DataFileError: the parts declare more than the decompressed-size limit in all, a
            large part expands more than :data:`MAX_COMPRESSION_RATIO`-fold, or a cell,
            text or tag is longer than the line limit.
    """
    members = archive.infolist()
    total = 0
    for info in members:
        total += info.file_size
        if total > limits.max_decompressed_bytes:
            raise too_large_decompressed(
                name, "the parts of the workbook declare", limits.max_decompressed_bytes
            )
        _check_ratio(name, "a part of the workbook", info.file_size, info.compress_size)
    for info in members:
        if info.file_size > limits.max_line_bytes and _xml_run_exceeds(archive, info, limits):
            raise line_too_long(name, "a cell or tag of the workbook", limits.max_line_bytes)


def check_parquet(name: str, metadata: Any, wanted: Iterable[str], limits: InputLimits) -> None:
    """Refuse a Parquet file whose column chunks to be read would inflate past the limits.

    Args:
        name: the file name, for messages.
        metadata: the file's ``pyarrow.parquet.FileMetaData`` (its footer).
        wanted: the columns that will be read; the others are never inflated.
        limits: the line and decompressed-size limits.

    Raises:
        DataFileError: the wanted chunks declare more than the decompressed-size limit in
            all, a large chunk expands more than :data:`MAX_COMPRESSION_RATIO`-fold, or a
            chunk's values are on average longer than the line limit.
    """
    columns = set(wanted)
    total = 0
    for group_index in range(metadata.num_row_groups):
        group = metadata.row_group(group_index)
        for column_index in range(group.num_columns):
            chunk = group.column(column_index)
            column = str(chunk.path_in_schema).split(".")[0]
            if column not in columns:
                continue
            size = int(chunk.total_uncompressed_size)
            total += size
            if total > limits.max_decompressed_bytes:
                raise too_large_decompressed(
                    name, "the columns to read declare", limits.max_decompressed_bytes
                )
            _check_ratio(name, f"column {column!r}", size, int(chunk.total_compressed_size))
            values = max(1, int(chunk.num_values))
            if size > limits.max_line_bytes and size / values > limits.max_line_bytes:
                raise line_too_long(name, f"a value of column {column!r}", limits.max_line_bytes)


def _check_ratio(name: str, what: str, size: int, compressed: int) -> None:
    ratio = size / max(1, compressed)
    if size > RATIO_CHECKED_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise compression_bomb(name, what, ratio)


def _xml_run_exceeds(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: InputLimits) -> bool:
    """True if the part is XML with more than the line limit in a row without a ``<``.

    Every XML text and tag lies between two ``<``, so this bounds the longest cell value
    or tag a parser would hold. Parts that do not start as XML (images, macros) are never
    parsed, so they are skipped. Chunks are read no longer than the limit, so a longer
    run always reaches a chunk's end and only the run carried across chunks is counted.
    """
    limit = limits.max_line_bytes
    size = min(CHUNK_BYTES, limit)
    with archive.open(info) as part:
        chunk = part.read(size)
        lead = chunk.lstrip(_XML_LEAD)
        if lead and not lead.startswith(_MARKUP_START):
            return False
        return _run_exceeds(chunk, part, size, limit)


def _run_exceeds(chunk: bytes, stream: Any, size: int, limit: int) -> bool:
    run = 0
    while chunk:
        first = chunk.find(_MARKUP_START)
        if first < 0:
            run += len(chunk)
        elif run + first > limit:
            return True
        else:
            run = len(chunk) - chunk.rfind(_MARKUP_START) - 1
        if run > limit:
            return True
        chunk = stream.read(size)
    return False
