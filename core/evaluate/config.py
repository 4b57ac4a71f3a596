"""What the evaluate stage is asked to do, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EvaluateError
from core.evaluate.gate import SetVerdict

# The model columns every evaluation has (others: ``teacher_int8``, ``student_onnx_int8``).
STUDENT, TEACHER = "student", "teacher"


@dataclass(frozen=True, slots=True)
class EvaluateConfig:
    """The evaluate stage's settings (DESIGN §6 ``stillroom evaluate``).

    Attributes:
        student: the student model folder (default: the latest succeeded train run's).
        teacher_id: the teacher to compare with (default: the student's, else the latest).
        hardware_cost_per_hour: what an hour of the serving hardware costs, for the student's
            cost per million requests and the break-even (currency of the teacher's prices).
        latency_runs: timed batch-1 requests per model and device.
        measure_latency: time the models at all (off: no speed or student cost figures).
        quantize_baseline: score the teacher quantized to INT8, where it is a local classifier.
        batch_size: texts per forward pass when scoring.
        max_new_tokens: longest student generation (generation task).
        payback_days: the horizon of the break-even estimate.
        strict_edge: an edge-case failure fails the gate too (it is always shown).
        extra_columns: also score the plugged-in columns (the student exported to ONNX INT8
            as the export stage ships it), where they can be built.
        threads: CPU threads for PyTorch while scoring and timing (default: its own choice,
            usually one per core; fewer is faster on a machine other work keeps busy).
    """

    student: Path | None = None
    teacher_id: str | None = None
    hardware_cost_per_hour: float = 1.0
    latency_runs: int = 30
    measure_latency: bool = True
    quantize_baseline: bool = True
    batch_size: int = 32
    max_new_tokens: int = 32
    payback_days: int = 30
    strict_edge: bool = False
    threads: int | None = None
    extra_columns: bool = True

    def validate(self) -> None:
        """Check the numbers.

        Raises:
            EvaluateError: a value is out of range.
        """
        checks = [
            (self.hardware_cost_per_hour >= 0, "--hardware-cost-per-hour cannot be negative"),
            (1 <= self.latency_runs <= 10_000, "--latency-runs must be between 1 and 10000"),
            (1 <= self.batch_size <= 4096, "the batch size must be between 1 and 4096"),
            (1 <= self.max_new_tokens <= 4096, "max new tokens must be between 1 and 4096"),
            (1 <= self.payback_days <= 3650, "the payback horizon must be 1..3650 days"),
            (self.threads is None or 1 <= self.threads <= 1024, "--threads must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise EvaluateError(message)


@dataclass(frozen=True, slots=True)
class HeadlineRow:
    """One model's headline figures on one set (None: not measured or not applicable)."""

    split: str
    model: str
    title: str
    metric: float | None
    retention: float | None
    agreement: float | None
    ece: float | None
    ece_calibrated: float | None
    p50_ms: float | None
    throughput_per_s: float | None
    size_mb: float | None
    cost_per_million: float | None


@dataclass(frozen=True, slots=True)
class ClassFigures:
    """One label's figures on one set: (precision, recall, F1) per model (None: absent)."""

    label: str
    support: int
    student: tuple[float, float, float] | None
    teacher: tuple[float, float, float] | None


@dataclass(frozen=True, slots=True)
class SetSummary:
    """One evaluated set (``test``, ``edge``): its verdict against the floor and the
    student's per-class figures and confusion counts (reference rows, predicted columns)."""

    split: str
    rows: int
    compared: int
    verdict: SetVerdict
    classes: tuple[ClassFigures, ...] = ()
    confusion: tuple[tuple[int, ...], ...] | None = None


@dataclass(frozen=True, slots=True)
class SpeedRow:
    """One model's CPU speed, size and cost (None: not measured or not applicable)."""

    model: str
    title: str
    p50_ms: float | None
    p95_ms: float | None
    throughput_per_s: float | None
    threads: int | None
    size_mb: float | None
    cost_per_million: float | None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Both models' cost per million requests, the one-off cost, and the break-even.

    ``breakeven_per_day`` is the daily volume at which the per-request saving repays the
    one-off cost (teacher labelling plus training compute) within ``payback_days``; None when
    the student saves nothing per request or a cost is unknown.
    """

    hardware_cost_per_hour: float
    teacher_per_million: float | None
    teacher_basis: str
    student_per_million: float | None
    student_basis: str
    one_off_cost: float | None
    one_off_parts: dict[str, float] = field(default_factory=dict)
    payback_days: int = 30
    breakeven_per_day: float | None = None


@dataclass(frozen=True, slots=True)
class EvaluateResult:
    """What an evaluate run found; paths and numbers, never record contents.

    ``passed`` is the ship decision (the test set's verdict, and the edge set's when
    ``strict_edge``); ``edge_passed`` is None when there is no edge-case set. Results stored
    by release 0.1 lack ``sets`` and what follows it (see :attr:`complete`).
    """

    run_id: str
    task: str
    primary_metric: str
    reference: str
    student_dir: Path
    teacher_id: str | None
    passed: bool
    test_passed: bool
    edge_passed: bool | None
    failures: tuple[str, ...]
    temperature: float | None
    calibration_file: Path | None
    report_html: Path
    report_pdf: Path | None
    headline: tuple[HeadlineRow, ...]
    notes: tuple[str, ...]
    labels: tuple[str, ...] = ()
    strict_edge: bool = False
    sets: tuple[SetSummary, ...] = ()
    speed: tuple[SpeedRow, ...] = ()
    cost: CostEstimate | None = None
    reliability_file: Path | None = None

    @property
    def complete(self) -> bool:
        """False for a result stored before the per-set figures were kept."""
        return bool(self.sets)

    def set(self, split: str) -> SetSummary | None:
        """The summary of ``test`` or ``edge``, if that set was evaluated."""
        return next((s for s in self.sets if s.split == split), None)

    def row(self, split: str, model: str) -> HeadlineRow | None:
        """One model's headline row on one set, if it was scored there."""
        return next((r for r in self.headline if r.split == split and r.model == model), None)

    def reason(self) -> str:
        """One sentence: the failed bounds when it fails, the checked bounds when it passes."""
        if not self.passed:
            return "; ".join(self.failures) or "the student does not meet the quality floor"
        test = self.set("test")
        text = "; ".join(c.describe() for c in test.verdict.checks) if test else ""
        text = text or "the test set passes"
        edge = [f.removeprefix("edge: ") for f in self.failures if f.startswith("edge:")]
        if edge:
            text += " — but the edge-case set fails (" + "; ".join(edge) + ")"
        return text
