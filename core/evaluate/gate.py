"""The quality gate: the student against the floor the project fixed before training.

Each set (test, edge) gets its own verdict. A bound that cannot be checked (no teacher
answers to compute a retention from) fails: a gate that passes what it could not measure is
no gate. The ship decision is the test set's verdict; an edge-case failure is always shown
and decides only when ``strict_edge`` is set, because the edge set is small and skewed by
design (rare labels, extreme lengths).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.project import QualityFloor


@dataclass(frozen=True, slots=True)
class Check:
    """One bound of the floor on one set."""

    name: str  # retention | min_metric | max_ece
    value: float | None
    bound: float
    op: str  # >= or <=
    passed: bool
    detail: str = ""

    def describe(self) -> str:
        """A plain phrase: ``retention 0.962 meets the floor 0.95``, ``ECE 0.040 is within
        the ceiling 0.05``, or ``retention 0.9000 is below the floor 0.95``.

        A failure keeps four decimals: 0.9496 against a floor of 0.95 must not read 0.950.
        """
        if self.value is None:
            return f"{self.name} not measurable ({self.detail}) — fails"
        if self.passed:
            held = "meets the floor" if self.op == ">=" else "is within the ceiling"
            return f"{self.name} {self.value:.3f} {held} {self.bound:g}"
        side = "below the floor" if self.op == ">=" else "above the ceiling"
        return f"{self.name} {self.value:.4f} is {side} {self.bound:g}"


@dataclass(frozen=True, slots=True)
class SetVerdict:
    split: str
    passed: bool
    checks: tuple[Check, ...]

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)


def judge(
    split: str,
    floor: QualityFloor,
    *,
    retention: float | None,
    metric: float | None,
    ece: float | None,
    retention_missing: str = "no teacher answers on this set",
) -> SetVerdict:
    """Check the student's numbers on one set against every bound the floor sets.

    Args:
        split: ``test`` or ``edge``.
        floor: the project's quality floor.
        retention: student metric / teacher metric on the same rows, if computable.
        metric: the student's primary metric.
        ece: the student's ECE after its fitted temperature (None for generation).
        retention_missing: why the retention is missing, when it is.
    """
    checks = [_at_least("retention", retention, floor.min_retention, retention_missing)]
    if floor.min_metric is not None:
        checks.append(_at_least("metric", metric, floor.min_metric, "no reference labels"))
    if floor.max_ece is not None and ece is not None:
        checks.append(Check("ECE", ece, floor.max_ece, "<=", ece <= floor.max_ece))
    return SetVerdict(split, all(c.passed for c in checks), tuple(checks))


def ships(test: SetVerdict, edge: SetVerdict | None, *, strict_edge: bool) -> bool:
    """The overall decision: the test set passes (and the edge set, if strict)."""
    if strict_edge and edge is not None:
        return test.passed and edge.passed
    return test.passed


def _at_least(name: str, value: float | None, bound: float, missing: str) -> Check:
    if value is None:
        return Check(name, None, bound, ">=", False, missing)
    # A hair of tolerance: 0.95 retention computed as 0.9499999999 must not fail.
    return Check(name, value, bound, ">=", value >= bound - 1e-9)
