"""Cost per million requests and the break-even volume: the product owner's trade-off.

The teacher's cost comes from what its outputs were billed at teach time; a local teacher
that billed nothing is costed like the student, from its speed and the hardware's hourly
cost. The student's cost assumes the hardware is kept busy at batch 32 (its measured
throughput), which is the cheapest it can get; latency-bound serving costs more.
"""

from __future__ import annotations

from core.evaluate.config import CostEstimate
from core.evaluate.inputs import TeacherCost
from core.evaluate.worth_it import MILLION, SECONDS_PER_HOUR


def per_million(cost_per_hour: float, throughput_per_s: float) -> float | None:
    """Hardware cost of a million requests at a throughput (None for no throughput)."""
    if throughput_per_s <= 0:
        return None
    return cost_per_hour / (throughput_per_s * SECONDS_PER_HOUR) * MILLION


def breakeven_per_day(
    one_off: float, teacher_pm: float, student_pm: float, days: int
) -> float | None:
    """Requests per day that repay ``one_off`` within ``days``; None if nothing is saved."""
    saving = (teacher_pm - student_pm) / MILLION
    if saving <= 0 or days <= 0:
        return None
    return one_off / (days * saving)


def estimate(
    *,
    teacher: TeacherCost | None,
    teacher_throughput: float | None,
    student_throughput: float | None,
    hardware_cost_per_hour: float,
    train_hours: float | None,
    payback_days: int,
) -> CostEstimate:
    """The cost figures for the report from what was recorded and measured."""
    rate = hardware_cost_per_hour
    teacher_pm, teacher_basis = _teacher_per_million(teacher, teacher_throughput, rate)
    student_pm = per_million(rate, student_throughput) if student_throughput else None
    student_basis = (
        f"measured throughput at batch 32 and {rate:g}/hour of hardware"
        if student_pm is not None
        else "not measured (latency skipped)"
    )
    parts: dict[str, float] = {}
    if teacher is not None:
        parts["teacher labelling (recorded)"] = teacher.total_cost
    if train_hours is not None:
        parts["training compute"] = train_hours * rate
    one_off = sum(parts.values()) if parts else None
    breakeven = None
    if one_off is not None and teacher_pm is not None and student_pm is not None:
        breakeven = breakeven_per_day(one_off, teacher_pm, student_pm, payback_days)
    return CostEstimate(
        hardware_cost_per_hour=rate,
        teacher_per_million=teacher_pm,
        teacher_basis=teacher_basis,
        student_per_million=student_pm,
        student_basis=student_basis,
        one_off_cost=one_off,
        one_off_parts=parts,
        payback_days=payback_days,
        breakeven_per_day=breakeven,
    )


def _teacher_per_million(
    teacher: TeacherCost | None, throughput: float | None, rate: float
) -> tuple[float | None, str]:
    if teacher is None or teacher.outputs == 0:
        return None, "no teacher outputs"
    if teacher.total_cost > 0:
        return teacher.total_cost / teacher.outputs * MILLION, "recorded cost of its outputs"
    if throughput:
        return per_million(rate, throughput), f"measured throughput at {rate:g}/hour (local)"
    if teacher.mean_latency_ms:
        per_request_hours = teacher.mean_latency_ms / 1000 / SECONDS_PER_HOUR
        return (
            per_request_hours * rate * MILLION,
            f"recorded per-record latency at teach time, at {rate:g}/hour (local)",
        )
    return None, "no cost or latency recorded (e.g. human labels)"
