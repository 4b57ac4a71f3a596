"""The input fingerprint each prediction log row carries, for drift monitoring (DESIGN §11).

Why hashed n-gram counts and not the student's pooled embedding: a classification bundle's
ONNX graph has logits as its only output, so an embedding would need a second export (a
graph change that every bundle and target would have to carry). Hashed counts need nothing
from the model, cost microseconds, and can be computed the same way from the project's
training text by the monitor, which compares their bucket distributions (a population
stability or chi-square test per window).

The fingerprint: lower-cased word unigrams and bigrams, each hashed (BLAKE2b, a fixed
salt) into :data:`BUCKETS` buckets; the counts, capped at 65,535, as little-endian uint16
bytes. It is not reversible to text, but it is not anonymization either: with a list of
candidate texts an attacker can test which one a row came from, so the log is kept as the
server's other data (owner-only).
"""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np
import numpy.typing as npt

BUCKETS = 128
VERSION = "ngram-hash-v1"  # recorded in the log's meta table; bump if anything here changes
_SALT = b"stillroom-fp-v1"
_WORD = re.compile(r"\w+", re.UNICODE)
_CACHE: dict[str, int] = {}
_CACHE_LIMIT = 200_000


def _bucket(token: str) -> int:
    found = _CACHE.get(token)
    if found is None:
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4, key=_SALT).digest()
        found = int.from_bytes(digest, "little") % BUCKETS
        if len(_CACHE) < _CACHE_LIMIT:
            _CACHE[token] = found
    return found


def counts(text: str) -> npt.NDArray[np.uint16]:
    """The bucket counts of ``text``'s word unigrams and bigrams."""
    words = _WORD.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    out = np.zeros(BUCKETS, dtype=np.int64)
    for gram in grams:
        out[_bucket(gram)] += 1
    return np.minimum(out, 65_535).astype("<u2")


def fingerprint(text: str) -> bytes:
    """:func:`counts` as the bytes a log row stores."""
    return counts(text).tobytes()


def decode(blob: bytes) -> npt.NDArray[np.uint16]:
    """A stored fingerprint back to its counts."""
    return np.frombuffer(blob, dtype="<u2")
