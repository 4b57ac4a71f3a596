"""How a stage tells the world how far it got, and learns it should stop (DESIGN §4).

The CLI renders a reporter as a progress bar, the worker process as JSON lines, tests record
it. Messages are about the work ("imported 12,000 rows"), never about row contents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from core.errors import StageCancelled

__all__ = ["NullReporter", "RecordingReporter", "Reporter", "StageCancelled"]


@runtime_checkable
class Reporter(Protocol):
    """What a stage may call while it runs."""

    def progress(self, fraction: float, message: str = "") -> None:
        """Report the fraction done (0..1) and a short message."""

    def metric(self, name: str, value: float, step: int | None = None) -> None:
        """Report one named number, optionally at a training step."""

    def cancel_requested(self) -> bool:
        """True once the user asked to stop; the stage checks it once per batch."""


class NullReporter:
    """Reports nowhere and never cancels."""

    def progress(self, fraction: float, message: str = "") -> None:
        return None

    def metric(self, name: str, value: float, step: int | None = None) -> None:
        return None

    def cancel_requested(self) -> bool:
        return False


@dataclass
class RecordingReporter:
    """Keeps every call; asks to cancel after ``cancel_after`` progress calls if given."""

    cancel_after: int | None = None
    progress_calls: list[tuple[float, str]] = field(default_factory=list)
    metrics: list[tuple[str, float, int | None]] = field(default_factory=list)

    def progress(self, fraction: float, message: str = "") -> None:
        self.progress_calls.append((fraction, message))

    def metric(self, name: str, value: float, step: int | None = None) -> None:
        self.metrics.append((name, value, step))

    def cancel_requested(self) -> bool:
        return self.cancel_after is not None and len(self.progress_calls) >= self.cancel_after
