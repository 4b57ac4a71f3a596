"""Deciding the text encoding of a CSV, TSV or JSONL file.

The rule, in order:

1. a byte-order mark: UTF-8 (``utf-8-sig``) or UTF-16 (``utf-16``, either byte order);
2. UTF-16 without a BOM, recognised by NUL bytes in every other position of the head;
3. UTF-8, if the *whole* file decodes strictly (checked chunk by chunk with an incremental
   decoder, so a file that is valid UTF-8 for its first megabyte and not later is caught);
4. Windows-1252, if the file holds none of the five bytes that cp1252 leaves undefined;
5. Latin-1, which decodes any byte sequence.

We deliberately do not use charset-normalizer or chardet: the encodings our users' exports
come in are this narrow set, and a statistical guesser picks cp1250, mac_roman or similar
for short or mostly-ASCII text, which silently garbles the few accented characters that
matter. A small deterministic rule is right more often here, and explainable.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterable, Iterator

from core.errors import UserError

HEAD_BYTES = 64 * 1024
_UTF16_SAMPLE_BYTES = 4096
# The bytes cp1252 leaves undefined; a strict cp1252 decode fails on any of them.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``head`` announces, if any."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def guess_utf16(head: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` if ``head`` looks like BOM-less UTF-16 text.

    Text that is mostly ASCII has a NUL in every other byte in UTF-16; which half holds the
    NULs gives the byte order.
    """
    sample = head[:_UTF16_SAMPLE_BYTES]
    sample = sample[: len(sample) // 2 * 2]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    if odd_nuls >= 0.3 * pairs and even_nuls <= 0.05 * pairs:
        return "utf-16-le"
    if even_nuls >= 0.3 * pairs and odd_nuls <= 0.05 * pairs:
        return "utf-16-be"
    return None


def detect_encoding(chunks: Iterable[bytes]) -> str:
    """The encoding of the text whose bytes are ``chunks`` (see the module docstring).

    Reads every chunk unless a BOM or UTF-16 decides it, or both UTF-8 and cp1252 have
    already been ruled out.

    Returns:
        One of ``utf-8-sig``, ``utf-16``, ``utf-16-le``, ``utf-16-be``, ``utf-8``,
        ``cp1252``, ``latin-1``.
    """
    stream = iter(chunks)
    head = _take(stream, HEAD_BYTES)
    decided = bom_encoding(head) or guess_utf16(head)
    if decided is not None:
        return decided
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_ok = cp1252_ok = True
    for chunk in itertools.chain([head], stream):
        if utf8_ok:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                utf8_ok = False
        if cp1252_ok and _CP1252_UNDEFINED.search(chunk):
            cp1252_ok = False
        if not utf8_ok and not cp1252_ok:
            return "latin-1"
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if utf8_ok:
        return "utf-8"
    return "cp1252" if cp1252_ok else "latin-1"


def decode_head(head: bytes) -> str:
    """A best-effort decoding of the first bytes of a file, for sniffing only."""
    encoding = bom_encoding(head) or guess_utf16(head) or "utf-8"
    text = head.decode(encoding, errors="replace")
    return text.removeprefix("\ufeff")


def check_encoding_name(name: str) -> str:
    """The codec's canonical name for a user-given encoding.

    Raises:
        UserError: Python knows no such text encoding.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise UserError(
            f"unknown text encoding {name!r}",
            "leave --encoding out to detect it, or use a name such as utf-8, cp1252, latin-1",
        )
    return info.name


def _take(stream: Iterator[bytes], size: int) -> bytes:
    """At least ``size`` bytes from the front of ``stream`` (fewer only at its end)."""
    parts: list[bytes] = []
    taken = 0
    while taken < size:
        chunk = next(stream, None)
        if chunk is None:
            break
        parts.append(chunk)
        taken += len(chunk)
    return b"".join(parts)
