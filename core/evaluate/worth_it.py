"""Is distillation worth it? The teacher's yearly bill, and what a student must reach.

Before anything is trained the product owner states the daily volume, what the teacher
costs (per thousand requests, or per million tokens), the currency, and how fast answers
must come back; this module turns that into the teacher's yearly cost and the throughput a
student must serve on the given hardware to cost less. Once an evaluation ran, the shipped
model's measured latency and throughput fill in the other side. Nothing is priced from a
number the user did not enter: a missing price reads "enter the teacher's price to see
savings".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from core.configs import from_json
from core.errors import StoredDataError, UserError
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


PRICE_MISSING = "enter the teacher's price to see savings"


@dataclass(frozen=True, slots=True)
class WorthItInputs:
    """What the product owner knows before training; None: not entered (no figure that
    needs it is shown, never one from a made-up default).

    Attributes:
        daily_requests: requests per day the model would serve.
        price: the teacher's price, per ``price_basis``.
        price_basis: ``per_1k_requests`` or ``per_1m_tokens``.
        tokens_per_request: input plus output tokens of a typical request (token pricing).
        teacher_latency_ms: how long the teacher takes per request, if known.
        latency_need_ms: the slowest answer the application accepts, if any.
        hardware_cost_per_hour: what an hour of the student's serving hardware costs.
        currency: the currency of the prices (``EUR``; shown with every amount).
    """

    daily_requests: float | None = None
    price: float | None = None
    price_basis: PriceBasis = "per_1k_requests"
    tokens_per_request: float | None = None
    teacher_latency_ms: float | None = None
    latency_need_ms: float | None = None
    hardware_cost_per_hour: float | None = None
    currency: str = ""

    def validate(self) -> None:
        """Raises UserError for a negative figure or a latency that is not positive."""
        if self.price_basis not in PRICE_BASES:
            raise UserError(f"unknown price basis {self.price_basis!r}")
        figures = {
            "the daily volume": self.daily_requests,
            "the teacher's price": self.price,
            "the tokens per request": self.tokens_per_request,
            "the hardware cost per hour": self.hardware_cost_per_hour,
        }
        for name, value in figures.items():
            if value is not None and value < 0:
                raise UserError(f"{name} cannot be negative", "enter 0 or more")
        for name, optional in (
            ("the teacher's latency", self.teacher_latency_ms),
            ("the latency you need", self.latency_need_ms),
        ):
            if optional is not None and optional <= 0:
                raise UserError(f"{name} must be more than 0 ms", "leave it empty if unknown")
        if len(self.currency) > 12:
            raise UserError("the currency is too long", "use a code such as EUR or USD")

    def money(self, value: float, decimals: int = 2) -> str:
        """``1,234.50 EUR`` (or without a currency when none was set)."""
        text = f"{value:,.{decimals}f}"
        return f"{text} {self.currency}" if self.currency else text


@dataclass(frozen=True, slots=True)
class StudentMeasurement:
    """The shipped model's figures from the latest evaluation (CPU, batch 1 and 32)."""

    run_id: str
    latency_p95_ms: float | None
    throughput_per_s: float | None
    title: str = ""


@dataclass(frozen=True, slots=True)
class WorthItEstimate:
    """The teacher's cost, what a student must reach, and (once measured) what it does;
    None where a figure needs a number that was not entered."""

    requests_per_year: float | None
    teacher_cost_per_request: float | None
    teacher_per_million: float | None
    teacher_yearly_cost: float | None
    required_throughput_per_s: float | None  # on the hardware, to cost less than the teacher
    teacher_meets_latency: bool | None
    student_yearly_cost: float | None = None
    yearly_saving: float | None = None
    student_meets_latency: bool | None = None


def teacher_cost_per_request(inputs: WorthItInputs) -> float | None:
    """What one request to the teacher costs at the entered price (None: not entered)."""
    if inputs.price is None:
        return None
    if inputs.price_basis == "per_1k_requests":
        return inputs.price / 1000.0
    if inputs.tokens_per_request is None:
        return None
    return inputs.price * inputs.tokens_per_request / MILLION


def estimate_worth_it(
    inputs: WorthItInputs, measured: StudentMeasurement | None = None
) -> WorthItEstimate:
    """The teacher's yearly cost, the student's target, and the measured saving if any.

    The required throughput is the requests per second at which an hour of the hardware
    costs what that hour's requests cost at the teacher: a student slower than that on the
    same hardware (kept busy) costs more than the teacher. The student's yearly cost is its
    measured throughput at the entered hardware cost.

    Raises:
        UserError: a figure is negative or a latency is not positive.
    """
    inputs.validate()
    per_request = teacher_cost_per_request(inputs)
    per_year = None if inputs.daily_requests is None else inputs.daily_requests * DAYS_PER_YEAR
    rate = inputs.hardware_cost_per_hour
    required = (
        rate / (per_request * SECONDS_PER_HOUR)
        if per_request is not None and per_request > 0 and rate is not None
        else None
    )
    estimate = WorthItEstimate(
        requests_per_year=per_year,
        teacher_cost_per_request=per_request,
        teacher_per_million=_times(per_request, MILLION),
        teacher_yearly_cost=_times(per_request, per_year),
        required_throughput_per_s=required,
        teacher_meets_latency=_within(inputs.teacher_latency_ms, inputs.latency_need_ms),
    )
    if measured is None:
        return estimate
    student_yearly = None
    if measured.throughput_per_s and rate is not None and per_year is not None:
        student_yearly = rate / (measured.throughput_per_s * SECONDS_PER_HOUR) * per_year
    teacher_yearly = estimate.teacher_yearly_cost
    saving = None
    if student_yearly is not None and teacher_yearly is not None:
        saving = teacher_yearly - student_yearly
    return replace(
        estimate,
        student_yearly_cost=student_yearly,
        yearly_saving=saving,
        student_meets_latency=_within(measured.latency_p95_ms, inputs.latency_need_ms),
    )


def _times(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a * b


def _within(latency_ms: float | None, need_ms: float | None) -> bool | None:
    if latency_ms is None or need_ms is None:
        return None
    return latency_ms <= need_ms


def measured_student(project: Project) -> StudentMeasurement | None:
    """The judged model's CPU latency and throughput from the latest successful
    evaluation (the file that ships, where it was scored), or None if none ran."""
    found = latest(project, EVALUATE)
    if found is None:
        return None
    result = found.result
    speed = next((row for row in result.speed if row.model == result.judged), None)
    return StudentMeasurement(
        run_id=found.run.id,
        latency_p95_ms=None if speed is None else speed.p95_ms,
        throughput_per_s=None if speed is None else speed.throughput_per_s,
        title="" if speed is None else speed.title,
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
