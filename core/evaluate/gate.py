"""The quality gate: the student against the floor the project fixed before training.

Each set (test, edge) gets its own verdict. A bound that cannot be checked (no teacher
answers to compute a retention from) fails: a gate that passes what it could not measure is
no gate. The ship decision is the test set's verdict; an edge-case failure is always shown
and decides only when ``strict_edge`` is set, because the edge set is small and skewed by
design (rare labels, extreme lengths).

With ``on_bound`` the gate judges the side of each figure's 95% bootstrap interval that is
least favourable (the lower bound of a retention or metric, the upper bound of an ECE):
the student then passes only when the floor holds with the uncertainty taken into account.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.evaluate.uncertainty import Interval
from core.project import QualityFloor

Figure = tuple[float | None, "Interval | None"]  # a value and its interval
Intervals = dict[str, "Interval | None"]


@dataclass(frozen=True, slots=True)
class Check:
    """One bound of the floor on one set."""

    name: str  # retention | min_metric | max_ece
    value: float | None
    bound: float
    op: str  # >= or <=
    passed: bool
    detail: str = ""
    interval: Interval | None = None
    on_bound: bool = False

    @property
    def judged(self) -> float | None:
        """The number held against the bound: the value, or its interval's worse side."""
        if not self.on_bound:
            return self.value
        if self.interval is None:
            return None
        return self.interval.low if self.op == ">=" else self.interval.high

    def describe(self) -> str:
        """A plain phrase: ``retention 0.962 meets the floor 0.95``, ``ECE 0.040 is within
        the ceiling 0.05``, or ``retention 0.9000 is below the floor 0.95``; on the bound:
        ``retention 0.962 (lower bound 0.941) is below the floor 0.95``.

        A failure keeps four decimals: 0.9496 against a floor of 0.95 must not read 0.950.
        """
        if self.value is None:
            return f"{self.name} not measurable ({self.detail}) — fails"
        digits = 3 if self.passed else 4
        text = f"{self.name} {self.value:.{digits}f}"
        if self.on_bound:
            side = "lower" if self.op == ">=" else "upper"
            bound = self.judged
            if bound is None:
                return f"{text} has no interval (too few rows) — fails on the bound"
            text += f" ({side} bound {bound:.{digits}f})"
        if self.passed:
            held = "meets the floor" if self.op == ">=" else "is within the ceiling"
            return f"{text} {held} {self.bound:g}"
        side = "below the floor" if self.op == ">=" else "above the ceiling"
        return f"{text} is {side} {self.bound:g}"


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
    intervals: Intervals | None = None,
    on_bound: bool = False,
) -> SetVerdict:
    """Check the student's numbers on one set against every bound the floor sets.

    Args:
        split: ``test`` or ``edge``.
        floor: the project's quality floor.
        retention: student metric / teacher metric on the same rows, if computable.
        metric: the student's primary metric.
        ece: the student's ECE after its fitted temperature (None for generation).
        retention_missing: why the retention is missing, when it is.
        intervals: the figures' 95% intervals by check name (retention, metric, ECE).
        on_bound: judge each figure's interval bound instead of the figure.
    """
    known = intervals or {}

    def check(name: str, value: float | None, bound: float, op: str, missing: str) -> Check:
        return _check(name, (value, known.get(name)), bound, op, on_bound, missing)

    checks = [check("retention", retention, floor.min_retention, ">=", retention_missing)]
    if floor.min_metric is not None:
        checks.append(check("metric", metric, floor.min_metric, ">=", "no reference labels"))
    if floor.max_ece is not None and ece is not None:
        checks.append(check("ECE", ece, floor.max_ece, "<=", ""))
    return SetVerdict(split, all(c.passed for c in checks), tuple(checks))


def ships(test: SetVerdict, edge: SetVerdict | None, *, strict_edge: bool) -> bool:
    """The overall decision: the test set passes (and the edge set, if strict)."""
    if strict_edge and edge is not None:
        return test.passed and edge.passed
    return test.passed


def _check(name: str, figure: Figure, bound: float, op: str, on_bound: bool, missing: str) -> Check:
    value, interval = figure
    if value is None:
        return Check(name, None, bound, op, False, missing)
    check = Check(name, value, bound, op, False, "", interval, on_bound)
    judged = check.judged
    # A hair of tolerance: 0.95 retention computed as 0.9499999999 must not fail.
    passed = judged is not None and (
        judged >= bound - 1e-9 if op == ">=" else judged <= bound + 1e-9
    )
    return dataclasses.replace(check, passed=passed)
