"""What to ship: the quantized teacher, the student, or neither (the seed's order).

Quantize first: when the teacher, quantized through the same ONNX INT8 path, meets the
project's floor, ship it; distil only when more is needed (a latency the quantized teacher
cannot meet, when the user entered one on the Project page). Otherwise ship the student
when it meets the floor, and neither when it does not. Both are judged by the same gate
(on the interval's bound when the evaluation judges bounds), and every difference that
decides is said with its size; a quality difference whose interval spans zero is called
what it is, within the uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.evaluate.config import HeadlineRow, Recommendation, SpeedRow
from core.evaluate.gate import SetVerdict
from core.evaluate.uncertainty import Interval

QUANTIZED_TEACHER, STUDENT_CHOICE, NEITHER = "quantized_teacher", "student", "neither"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One model that could ship: its verdict, its test-set figures and its speed."""

    name: str
    verdict: SetVerdict | None
    row: HeadlineRow | None
    speed: SpeedRow | None


def recommend(
    student: Candidate,
    baseline: Candidate | None,
    *,
    baseline_reason: str,
    metric: str,
    difference: tuple[float, Interval | None] | None,
    latency_need_ms: float | None,
    too_little_data: str = "",
) -> Recommendation:
    """The recommendation, with the sentences that justify it.

    Args:
        student: the judged student (the file that ships, where it was scored).
        baseline: the quantized teacher, or None when there is no local baseline.
        baseline_reason: why there is no baseline (when ``baseline`` is None).
        metric: the primary metric's name.
        difference: the baseline's metric minus the student's on the same rows, with its
            paired interval.
        latency_need_ms: the slowest answer the application accepts, if the user said.
        too_little_data: why the set that decides is too small to decide on (nothing ships
            on it, whatever it scored).
    """
    student_ok = student.verdict is not None and student.verdict.passed
    baseline_ok = baseline is not None and baseline.verdict is not None and baseline.verdict.passed
    if baseline is None:
        reasons = [f"There is no quantize-only baseline: {baseline_reason}."]
    else:
        reasons = [_verdict_sentence("The quantized teacher", baseline)]
    reasons.append(_verdict_sentence("The student", student))
    if baseline is not None:
        reasons += _differences(student, baseline, metric, difference)
    too_slow = _too_slow(baseline, latency_need_ms)
    if too_little_data:
        choice, headline = NEITHER, "Ship neither yet"
        reasons.append(f"Too little data to decide: {too_little_data}.")
    elif baseline_ok and too_slow and student_ok and not _too_slow(student, latency_need_ms):
        choice, headline = STUDENT_CHOICE, "Ship the student"
        reasons.append(
            f"The quantized teacher meets the floor but not the {latency_need_ms:,.0f} ms "
            "latency entered on the Project page; the student meets both."
        )
    elif baseline_ok:
        choice, headline = QUANTIZED_TEACHER, "Ship the quantized teacher"
        reasons.append(
            "Quantizing the teacher is enough: distil only if you need the student's speed "
            "or size (evaluate and export the teacher's folder with --student to ship it)."
        )
    elif student_ok:
        choice, headline = STUDENT_CHOICE, "Ship the student"
    else:
        choice, headline = NEITHER, "Ship neither"
        reasons.append(
            "Neither meets the quality floor: more or better-labelled data, a larger student "
            "or a better teacher may; the floor should not be lowered to pass."
        )
    gap, gap_ci = difference if difference is not None else (None, None)
    return Recommendation(choice, headline, tuple(reasons), gap, gap_ci)


def _verdict_sentence(who: str, candidate: Candidate) -> str:
    verdict = candidate.verdict
    if verdict is None:
        return f"{who} was not judged."
    checks = "; ".join(c.describe() for c in verdict.checks)
    state = "meets the floor" if verdict.passed else "fails the floor"
    return f"{who} {state} ({checks})."


def _differences(
    student: Candidate,
    baseline: Candidate,
    metric: str,
    difference: tuple[float, Interval | None] | None,
) -> list[str]:
    out = []
    if difference is not None:
        gap, interval = difference
        better = "the quantized teacher" if gap > 0 else "the student"
        text = f"On the same test rows {better} scores {abs(gap):.3f} higher {metric}"
        if interval is not None:
            within = interval.low <= 0 <= interval.high
            text += f" (95% interval of the difference {interval.text()}"
            text += "; within the uncertainty)" if within else ")"
        out.append(text + ".")
    speed = _speed_sentence(student.speed, baseline.speed)
    if speed:
        out.append(speed)
    return out


def _speed_sentence(student: SpeedRow | None, baseline: SpeedRow | None) -> str:
    if student is None or baseline is None:
        return ""
    parts = []
    if student.p50_ms and baseline.p50_ms:
        parts.append(
            f"answers in {student.p50_ms:,.1f} ms against {baseline.p50_ms:,.1f} ms at p50 "
            f"({baseline.p50_ms / student.p50_ms:,.1f} times faster)"
        )
    if student.size_mb and baseline.size_mb:
        parts.append(
            f"is {student.size_mb:,.1f} MB against {baseline.size_mb:,.1f} MB "
            f"({baseline.size_mb / student.size_mb:,.1f} times smaller)"
        )
    if not parts:
        return ""
    return "Same runtime and threads: the student " + " and ".join(parts) + "."


def _too_slow(candidate: Candidate | None, need_ms: float | None) -> bool:
    if candidate is None or need_ms is None or candidate.speed is None:
        return False
    p95 = candidate.speed.p95_ms
    return p95 is not None and p95 > need_ms
