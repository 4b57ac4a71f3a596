"""Cost per million requests and the break-even volume: the product owner's trade-off.

Only numbers the user entered or the app measured: the teacher's price entered on the
Project page, else what its outputs were billed at teach time, else (a local teacher) its
measured speed at the hardware's hourly cost the user entered. The student's cost is the
shipped model's measured throughput at batch 32 at that hourly cost, which is the
cheapest it can get; latency-bound serving costs more. A figure that needs a number nobody
entered is not shown; the report says which number to enter instead.
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


PRICE_MISSING = "enter the teacher's price to see savings"
RATE_MISSING = "enter the serving hardware's cost per hour to see it"


def estimate(
    *,
    teacher: TeacherCost | None,
    teacher_price_per_request: float | None,
    teacher_throughput: float | None,
    student_throughput: float | None,
    hardware_cost_per_hour: float | None,
    train_hours: float | None,
    payback_days: int,
    currency: str = "",
) -> CostEstimate:
    """The cost figures for the report, from what the user entered and the app measured.

    Args:
        teacher: what the teacher's stored outputs cost (recorded at teach time).
        teacher_price_per_request: the teacher's price as the user entered it, if they did.
        teacher_throughput: the local teacher's measured throughput (requests/s).
        student_throughput: the shipped model's measured throughput (requests/s).
        hardware_cost_per_hour: what an hour of serving hardware costs, if entered.
        train_hours: how long training took.
        payback_days: the break-even horizon.
        currency: the currency the user set (empty: unnamed).
    """
    rate = hardware_cost_per_hour
    teacher_pm, teacher_basis = _teacher_per_million(
        teacher, teacher_price_per_request, teacher_throughput, rate
    )
    student_pm, student_basis = None, "not measured (latency skipped)"
    if student_throughput and rate is None:
        student_basis = RATE_MISSING
    elif student_throughput and rate is not None:
        student_pm = per_million(rate, student_throughput)
        student_basis = f"the shipped model's measured throughput at {rate:g}/hour of hardware"
    parts: dict[str, float] = {}
    if teacher is not None and teacher.total_cost > 0:
        parts["teacher labelling (recorded)"] = teacher.total_cost
    if train_hours is not None and rate is not None:
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
        currency=currency,
    )


def _teacher_per_million(
    teacher: TeacherCost | None,
    price_per_request: float | None,
    throughput: float | None,
    rate: float | None,
) -> tuple[float | None, str]:
    if price_per_request is not None:
        return price_per_request * MILLION, "the teacher's price entered on the Project page"
    if teacher is not None and teacher.outputs and teacher.total_cost > 0:
        return teacher.total_cost / teacher.outputs * MILLION, "recorded cost of its outputs"
    if rate is None:
        return None, PRICE_MISSING
    if throughput:
        return per_million(rate, throughput), f"measured throughput at {rate:g}/hour (local)"
    if teacher is not None and teacher.mean_latency_ms:
        per_request_hours = teacher.mean_latency_ms / 1000 / SECONDS_PER_HOUR
        return (
            per_request_hours * rate * MILLION,
            f"recorded per-record latency at teach time, at {rate:g}/hour (local)",
        )
    return None, PRICE_MISSING
