"""Is distillation worth it? The teacher's yearly bill, and what a student must reach.

Before anything is trained the product owner states the daily volume, what the teacher
costs (per thousand requests, or per million tokens) and how fast answers must come back;
this module turns that into the teacher's yearly cost and the throughput a student must
serve on the given hardware to cost less. Once an evaluation ran, the student's measured
latency and cost per million requests fill in the other side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from core.configs import from_json
from core.errors import StoredDataError, UserError
from core.evaluate.config import STUDENT
from core.jobs.registry import EVALUATE
from core.jobs.runs import latest
from core.project import Project

# Here rather than in core.evaluate.cost (which uses them too), because that imports numpy:
# the project page reads this module while the window opens.
MILLION = 1_000_000
SECONDS_PER_HOUR = 3600.0
DAYS_PER_YEAR = 365
SETTING_KEY = "worth_it"
PriceBasis = Literal["per_1k_requests", "per_1m_tokens"]
PRICE_BASES: tuple[str, ...] = ("per_1k_requests", "per_1m_tokens")


@dataclass(frozen=True, slots=True)
class WorthItInputs:
    """What the product owner knows before training.

    Attributes:
        daily_requests: requests per day the model would serve.
        price: the teacher's price, per ``price_basis``.
        price_basis: ``per_1k_requests`` or ``per_1m_tokens``.
        tokens_per_request: input plus output tokens of a typical request (token pricing).
        teacher_latency_ms: how long the teacher takes per request, if known.
        latency_need_ms: the slowest answer the application accepts, if any.
        hardware_cost_per_hour: what an hour of the student's serving hardware costs.
    """

    daily_requests: float = 10_000.0
    price: float = 1.0
    price_basis: PriceBasis = "per_1k_requests"
    tokens_per_request: float = 500.0
    teacher_latency_ms: float | None = None
    latency_need_ms: float | None = None
    hardware_cost_per_hour: float = 1.0

    def validate(self) -> None:
        """Raises UserError for a negative or missing figure."""
        if self.price_basis not in PRICE_BASES:
            raise UserError(f"unknown price basis {self.price_basis!r}")
        figures = {
            "the daily volume": self.daily_requests,
            "the teacher's price": self.price,
            "the tokens per request": self.tokens_per_request,
            "the hardware cost per hour": self.hardware_cost_per_hour,
        }
        for name, value in figures.items():
            if value < 0:
                raise UserError(f"{name} cannot be negative", "enter 0 or more")
        for name, optional in (
            ("the teacher's latency", self.teacher_latency_ms),
            ("the latency you need", self.latency_need_ms),
        ):
            if optional is not None and optional <= 0:
                raise UserError(f"{name} must be more than 0 ms", "leave it empty if unknown")


@dataclass(frozen=True, slots=True)
class StudentMeasurement:
    """The student's figures from the latest evaluation (CPU, batch 1 and batch 32)."""

    run_id: str
    latency_p95_ms: float | None
    throughput_per_s: float | None
    cost_per_million: float | None


@dataclass(frozen=True, slots=True)
class WorthItEstimate:
    """The teacher's cost, what a student must reach, and (once measured) what it does."""

    requests_per_year: float
    teacher_cost_per_request: float
    teacher_per_million: float
    teacher_yearly_cost: float
    required_throughput_per_s: float | None  # on the hardware, to cost less than the teacher
    teacher_meets_latency: bool | None
    student_yearly_cost: float | None = None
    yearly_saving: float | None = None
    student_meets_latency: bool | None = None


def teacher_cost_per_request(inputs: WorthItInputs) -> float:
    """What one request to the teacher costs at the stated price."""
    if inputs.price_basis == "per_1k_requests":
        return inputs.price / 1000.0
    return inputs.price * inputs.tokens_per_request / MILLION


def estimate_worth_it(
    inputs: WorthItInputs, measured: StudentMeasurement | None = None
) -> WorthItEstimate:
    """The teacher's yearly cost, the student's target, and the measured saving if any.

    The required throughput is the requests per second at which an hour of the hardware
    costs what that hour's requests cost at the teacher: a student slower than that on the
    same hardware (kept busy) costs more than the teacher.

    Raises:
        UserError: a figure is negative or a latency is not positive.
    """
    inputs.validate()
    per_request = teacher_cost_per_request(inputs)
    per_year = inputs.daily_requests * DAYS_PER_YEAR
    required = (
        inputs.hardware_cost_per_hour / (per_request * SECONDS_PER_HOUR)
        if per_request > 0
        else None
    )
    estimate = WorthItEstimate(
        requests_per_year=per_year,
        teacher_cost_per_request=per_request,
        teacher_per_million=per_request * MILLION,
        teacher_yearly_cost=per_request * per_year,
        required_throughput_per_s=required,
        teacher_meets_latency=_within(inputs.teacher_latency_ms, inputs.latency_need_ms),
    )
    if measured is None:
        return estimate
    student_yearly = (
        None
        if measured.cost_per_million is None
        else measured.cost_per_million / MILLION * per_year
    )
    return WorthItEstimate(
        **{
            **asdict(estimate),
            "student_yearly_cost": student_yearly,
            "yearly_saving": (
                None if student_yearly is None else estimate.teacher_yearly_cost - student_yearly
            ),
            "student_meets_latency": _within(measured.latency_p95_ms, inputs.latency_need_ms),
        }
    )


def _within(latency_ms: float | None, need_ms: float | None) -> bool | None:
    if latency_ms is None or need_ms is None:
        return None
    return latency_ms <= need_ms


def measured_student(project: Project) -> StudentMeasurement | None:
    """The student's CPU latency, throughput and cost from the latest successful
    evaluation, or None if none ran."""
    found = latest(project, EVALUATE)
    if found is None:
        return None
    speed = next((row for row in found.result.speed if row.model == STUDENT), None)
    return StudentMeasurement(
        run_id=found.run.id,
        latency_p95_ms=None if speed is None else speed.p95_ms,
        throughput_per_s=None if speed is None else speed.throughput_per_s,
        cost_per_million=None if speed is None else speed.cost_per_million,
    )


def load_inputs(project: Project) -> WorthItInputs | None:
    """The calculator's inputs as last saved in the project, if ever."""
    values = project.setting(SETTING_KEY)
    if not isinstance(values, dict):
        return None
    try:
        return from_json(WorthItInputs, values)
    except StoredDataError:
        return None


def save_inputs(project: Project, inputs: WorthItInputs) -> None:
    """Store the calculator's inputs in the project's settings (audited like any setting).

    Raises:
        UserError: a figure is invalid.
    """
    inputs.validate()
    values: dict[str, Any] = asdict(inputs)
    project.set_setting(SETTING_KEY, values)
