"""Replayed production traffic for the monitor tests: the training phrases, and a kind of
text the tiny models never saw (the planted shift)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tiny_models import LABELS, raw_text

# Production text of another kind than the training phrases (the planted shift).
SHIFTED = "the parking garage gate {i} is broken again and nobody answers the quokkaphone at {j}"


def times(n: int, start: int = 0) -> list[str]:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return [(t0 + timedelta(minutes=start + i)).isoformat() for i in range(n)]


def unshifted(n: int, offset: int = 900) -> list[str]:
    """Training-like requests (the offset keeps each label's phrase, as in the training data)."""
    return [raw_text(LABELS[i % len(LABELS)], offset + i) for i in range(n)]


def shifted(n: int) -> list[str]:
    return [SHIFTED.format(i=i, j=i * 7 % 13) for i in range(n)]
