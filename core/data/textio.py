"""Opening a source file as a byte stream, decompressing ``.gz`` and ``.bz2`` on the fly.

Every reader goes through :func:`open_bytes`, so compression, progress (bytes of the file
on disk consumed so far), the line and decompressed-size limits (:mod:`core.data.limits`)
and the translation of damaged-archive errors live in one place.
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

from core.data.limits import InputLimits, line_too_long, too_large_decompressed
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
def open_bytes(
    path: Path, compression: str | None, size: int, limits: InputLimits | None = None
) -> Iterator[ByteSource]:
    """Open ``path`` for reading, decompressing it if ``compression`` says so.

    Reading from the stream may raise what :func:`read_errors` translates; readers wrap
    their loops in it rather than this block, so errors of the caller's own are not
    mistaken for a damaged file.

    Args:
        path: the file.
        compression: ``gzip``, ``bz2`` or None.
        size: its size on disk, for progress.
        limits: the line and decompressed-size limits the stream enforces as it is read
            (it then raises :class:`DataFileError` the moment one is passed); None for
            none, for reading a bounded head only.

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
        if limits is not None:
            stream = CappedStream(stream, path.name, limits, compressed=compression is not None)
        yield ByteSource(stream, raw, size)
    finally:
        raw.close()


class CappedStream(io.BufferedIOBase):
    """A byte stream that refuses a line longer than the line limit, or, for a compressed
    file, more decompressed bytes than the decompressed-size limit, as soon as it reads them.

    Checking the bytes, before any decoding or parsing, keeps the cost of a hostile file at
    about one line limit: a 1 GB line is refused after its first 16 MiB.
    """

    def __init__(
        self, inner: io.BufferedIOBase, name: str, limits: InputLimits, *, compressed: bool
    ) -> None:
        super().__init__()
        self._inner, self._name = inner, name
        self._line_cap = limits.max_line_bytes
        self._total_cap = limits.max_decompressed_bytes if compressed else None
        self._run = 0  # bytes since the last newline
        self._newlines = 0
        self._total = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read1(CHUNK_BYTES), b""))
        return self._checked(self._inner.read(size))

    def read1(self, size: int = -1) -> bytes:
        return self._checked(self._inner.read1(size if size >= 0 else CHUNK_BYTES))

    def _checked(self, data: bytes) -> bytes:
        self._total += len(data)
        if self._total_cap is not None and self._total > self._total_cap:
            raise too_large_decompressed(self._name, "it decompresses to", self._total_cap)
        cap = self._line_cap
        # In pieces of at most the limit, a line longer than it always reaches the end of
        # a piece, so the run carried across pieces (and reads) is the only one to check.
        for start in range(0, len(data), cap):
            stop = min(len(data), start + cap)
            last = data.rfind(b"\n", start, stop)
            if last >= 0 and self._run + data.find(b"\n", start, stop) - start > cap:
                self._refuse(data, start)
            self._run = stop - last - 1 if last >= 0 else self._run + stop - start
            if self._run > cap:
                self._refuse(data, start)
        self._newlines += data.count(b"\n")
        return data

    def _refuse(self, data: bytes, start: int) -> None:
        line = self._newlines + data.count(b"\n", 0, start) + 1
        raise line_too_long(self._name, f"line {line:,}", self._line_cap)


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
