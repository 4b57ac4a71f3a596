"""Opening a source file as a byte stream, decompressing ``.gz`` and ``.bz2`` on the fly.

Every reader goes through :func:`open_bytes`, so compression, progress (bytes of the file
on disk consumed so far) and the translation of damaged-archive errors live in one place.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from core.errors import DataFileError

CHUNK_BYTES = 1 << 20
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2"}


class ByteSource:
    """A (possibly decompressing) byte stream plus how far through the file on disk it is."""

    def __init__(self, stream: io.BufferedIOBase, raw: io.BufferedIOBase, size: int) -> None:
        self.stream = stream
        self._raw = raw
        self._size = size

    def fraction_read(self) -> float:
        """Bytes of the file on disk consumed so far, as a fraction of its size."""
        if self._size <= 0:
            return 1.0
        try:
            return min(1.0, self._raw.tell() / self._size)
        except (OSError, ValueError):
            return 0.0

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The rest of the stream, in chunks of at most ``size`` bytes."""
        while chunk := self.stream.read(size):
            yield chunk


@contextlib.contextmanager
def open_bytes(path: Path, compression: str | None, size: int) -> Iterator[ByteSource]:
    """Open ``path`` for reading, decompressing it if ``compression`` says so.

    Reading from the stream may raise what :func:`read_errors` translates; readers wrap
    their loops in it rather than this block, so errors of the caller's own are not
    mistaken for a damaged file.

    Raises:
        DataFileError: the file cannot be opened.
    """
    with read_errors(path, compression):
        raw = path.open("rb")
    stream: io.BufferedIOBase
    try:
        if compression == "gzip":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        elif compression == "bz2":
            stream = bz2.BZ2File(raw, mode="rb")
        else:
            stream = raw
        yield ByteSource(stream, raw, size)
    finally:
        raw.close()


@contextlib.contextmanager
def read_errors(path: Path, compression: str | None) -> Iterator[None]:
    """Turn failures to read or decompress the file into :class:`DataFileError`."""
    try:
        yield
    except PermissionError as exc:
        raise DataFileError(
            f"{path.name} cannot be read: permission denied",
            "check that your user may read the file, or copy it somewhere you own",
        ) from exc
    except (EOFError, zlib.error, OSError) as exc:
        if compression is None:
            raise DataFileError(
                f"{path.name} could not be read from the disk",
                "copy the file to a local disk and try again",
            ) from exc
        raise DataFileError(
            f"{path.name} is damaged or not really {compression}-compressed",
            "decompress it yourself to check it, then import the decompressed file",
        ) from exc


def file_sha256(path: Path, *, on_chunk: Callable[[int], None] | None = None) -> str:
    """The SHA-256 of the file on disk (compressed bytes as stored), read in chunks.

    Args:
        path: the file.
        on_chunk: called with the bytes hashed so far after each chunk (for progress and
            cancellation; it may raise to stop).

    Raises:
        DataFileError: the file cannot be read.
    """
    digest = hashlib.sha256()
    done = 0
    with read_errors(path, None), path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            done += len(chunk)
            if on_chunk is not None:
                on_chunk(done)
    return digest.hexdigest()


def split_suffixes(path: Path) -> tuple[str, str | None]:
    """The data extension (lower case, with dot) and the compression named by the name.

    ``reviews.csv.bz2`` gives ``(".csv", "bz2")``; ``reviews.txt`` gives ``(".txt", None)``.
    """
    suffixes = [suffix.lower() for suffix in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression is not None:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), compression


def dataset_stem(path: Path) -> str:
    """The file name without its data and compression extensions: ``a.b.csv.gz`` → ``a.b``."""
    name = path.name
    extension, compression = split_suffixes(path)
    for suffix in (*(s for s, c in COMPRESSIONS.items() if c == compression), extension):
        if suffix and name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name
