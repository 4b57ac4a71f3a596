"""The one interface every teacher source implements, and what flows through it.

A teacher turns :class:`TeachItem` s (a record id and its *anonymized* text) into
:class:`TeacherOutput` s, yielded in :class:`TeachBatch` es that the stage writes to the store
in one transaction each. How a source gets there (a local model, an endpoint, the labels
already in the data) is its own business.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TeachItem:
    """One record as the teacher may see it: never the raw text, only the anonymized one."""

    record_id: int
    split: str
    human_label: str | None
    text: str


@dataclass(frozen=True, slots=True)
class TeacherOutput:
    """What a teacher said about one record, ready to be stored.

    ``probabilities`` is in the project's label order. ``valid`` is False for an answer
    outside the label set (after the stricter retry), or numbers that are no distribution
    (NaN, infinite, negative, not summing to 1: see ``outputs.checked``); it is stored with
    the reason in ``flag``, not billed again, and training skips it. ``usage_ignored``: the
    server reported impossible token counts, so this output was not billed.
    """

    record_id: int
    label: str | None = None
    probabilities: tuple[float, ...] | None = None
    soft_label_source: str | None = None
    label_mass: float | None = None
    text: str | None = None
    token_logprobs: list[dict[str, Any]] | None = None
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 1
    valid: bool = True
    flag: str | None = None
    usage_ignored: bool = False


@dataclass(frozen=True, slots=True)
class TeachBatch:
    """Outputs to store together, and the records that could not be done this time."""

    outputs: list[TeacherOutput] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    """record id → why (an error class, never text); left unstored for the next run."""


class Teacher(Protocol):
    """A source of soft labels or generations."""

    @property
    def teacher_id(self) -> str:
        """A stable id: the same teacher and decoding settings give the same id."""

    @property
    def warnings(self) -> list[str]:
        """Actionable notes gathered while running (no record contents)."""

    def outputs(self, items: Iterable[TeachItem]) -> Iterator[TeachBatch]:
        """Label ``items``, yielding batches as they complete."""

    def close(self) -> None:
        """Release models, connections and event loops."""


def chunked(items: Iterable[TeachItem], size: int) -> Iterator[list[TeachItem]]:
    """``items`` in lists of at most ``size``."""
    batch: list[TeachItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def chunked_by_length(
    items: Iterable[TeachItem], size: int, lookahead: int = 8
) -> Iterator[list[TeachItem]]:
    """Batches of similar-length texts, to waste less compute on padding.

    Reads ``size * lookahead`` items at a time and sorts them by length before cutting, so
    memory stays bounded; outputs are keyed by record, so the order does not matter.
    """
    for window in chunked(items, size * lookahead):
        window.sort(key=lambda item: len(item.text))
        for start in range(0, len(window), size):
            yield window[start : start + size]
