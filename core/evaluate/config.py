"""What the evaluate stage is asked to do, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EvaluateError
from core.evaluate.gate import SetVerdict
from core.evaluate.sample_size import RULES, SampleSizeRules
from core.evaluate.uncertainty import Interval

# The model columns: the stored teacher answers and the PyTorch student are always there;
# the file that ships (the student in ONNX INT8) and the quantize-only baseline (the
# teacher through the same ONNX INT8 path) where they can be built.
STUDENT, TEACHER = "student", "teacher"
SHIPPED, BASELINE = "student_onnx_int8", "teacher_int8"
# One quantization setting as the manifest records it (``core.export.quantize``).
Setting = str | int | float | bool | None | list[str] | dict[str, str | int | float | bool]


@dataclass(frozen=True, slots=True)
class EvaluateConfig:
    """The evaluate stage's settings (DESIGN §6 ``stillroom evaluate``).

    Attributes:
        student: the student model folder (default: the latest succeeded train run's).
        teacher_id: the teacher to compare with (default: the student's, else the latest).
        hardware_cost_per_hour: what an hour of the serving hardware costs, for the cost per
            million requests and the break-even (None: the figure entered on the Project
            page, if any; without one no hardware cost is shown).
        latency_runs: timed batch-1 requests per model and device.
        measure_latency: time the models at all (off: no speed or student cost figures).
        quantize_baseline: score the teacher through the same ONNX INT8 path as the
            student, where it is a local classifier (the quantize-only baseline).
        batch_size: texts per forward pass when scoring.
        max_new_tokens: longest student generation (generation task).
        payback_days: the horizon of the break-even estimate.
        strict_edge: an edge-case failure fails the gate too (it is always shown).
        score_shipped: build the file the export ships (the student in ONNX INT8), keep it
            in the run folder and judge the gate on it (classification).
        threads: CPU threads for PyTorch and ONNX Runtime while scoring and timing
            (default: their own choice, usually one per core; fewer is faster on a machine
            other work keeps busy).
        gate_on_lower_bound: judge the floor on each figure's 95% interval bound (retention
            and metric: lower; ECE: upper) rather than on the figure itself.
        sample_sizes: the rows each split needs (warnings; the temperature's minimum).
    """

    student: Path | None = None
    teacher_id: str | None = None
    hardware_cost_per_hour: float | None = None
    latency_runs: int = 30
    measure_latency: bool = True
    quantize_baseline: bool = True
    batch_size: int = 32
    max_new_tokens: int = 32
    payback_days: int = 30
    strict_edge: bool = False
    threads: int | None = None
    score_shipped: bool = True
    gate_on_lower_bound: bool = False
    sample_sizes: SampleSizeRules = RULES

    def validate(self) -> None:
        """Check the numbers.

        Raises:
            EvaluateError: a value is out of range.
        """
        checks = [
            (
                self.hardware_cost_per_hour is None or self.hardware_cost_per_hour >= 0,
                "--hardware-cost-per-hour cannot be negative",
            ),
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
    """One model's headline figures on one set (None: not measured or not applicable).

    The ``*_ci`` fields are 95% bootstrap intervals over the set's rows (``ece_ci``: of the
    ECE the gate checks, after the temperature where one is applied).
    """

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
    metric_ci: Interval | None = None
    retention_ci: Interval | None = None
    agreement_ci: Interval | None = None
    ece_ci: Interval | None = None
    rows: int = 0

    @property
    def gate_ece(self) -> float | None:
        """The ECE the gate checks: after the temperature where one is applied."""
        return self.ece if self.ece_calibrated is None else self.ece_calibrated


@dataclass(frozen=True, slots=True)
class ClassFigures:
    """One label's figures on one set: (precision, recall, F1) per model (None: absent).

    ``student`` is the judged model (the file that ships, where it was scored);
    ``retention`` its F1 over the teacher's on this label.
    """

    label: str
    support: int
    student: tuple[float, float, float] | None
    teacher: tuple[float, float, float] | None
    retention: float | None = None


@dataclass(frozen=True, slots=True)
class SetSummary:
    """One evaluated set (``test``, ``edge``): its verdict against the floor and the
    judged model's per-class figures and confusion counts (reference rows, predicted
    columns); ``worst_class`` is the label with the lowest per-class retention."""

    split: str
    rows: int
    compared: int
    verdict: SetVerdict
    classes: tuple[ClassFigures, ...] = ()
    confusion: tuple[tuple[int, ...], ...] | None = None
    worst_class: str | None = None


@dataclass(frozen=True, slots=True)
class ShippedModel:
    """The file the export ships, exactly as the evaluation scored it.

    Attributes:
        model: its column in the evaluation (``student_onnx_int8``).
        file: ``runs/<evaluate run>/shipped/model.onnx``.
        sha256: the file's SHA-256 when it was scored.
        size_bytes: its size.
        precision: ``int8``.
        isa: the INT8 kernel target it was quantized for.
        exporter: the ONNX exporter that wrote it (``optimum`` or ``torch``).
        max_length: the longest input in tokens it was scored with.
        quantization: how it was quantized (for the manifest).
    """

    model: str
    file: Path
    sha256: str
    size_bytes: int
    precision: str
    isa: str
    exporter: str
    max_length: int
    quantization: dict[str, Setting] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What to ship, from the measured figures, in the seed's order (quantize first).

    Attributes:
        choice: ``quantized_teacher``, ``student`` or ``neither``.
        headline: one sentence (``Ship the student``).
        reasons: the differences in quality, speed and size that decide it.
        difference: the quantized teacher's metric minus the shipped student's, on the
            same test rows (None: no baseline).
        difference_ci: its 95% paired bootstrap interval.
    """

    choice: str
    headline: str
    reasons: tuple[str, ...]
    difference: float | None = None
    difference_ci: Interval | None = None


@dataclass(frozen=True, slots=True)
class Referral:
    """The confidence below which a case should go to a person rather than be answered.

    ``threshold`` is the lowest calibrated confidence at which the judged model's test rows
    at or above it are at least ``target`` accurate; ``coverage`` is the share of rows the
    model would answer alone, ``accuracy`` their accuracy. None when no threshold reaches
    the target.
    """

    threshold: float | None
    target: float
    basis: str
    coverage: float
    accuracy: float
    rows: int


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

    hardware_cost_per_hour: float | None
    teacher_per_million: float | None
    teacher_basis: str
    student_per_million: float | None
    student_basis: str
    one_off_cost: float | None
    one_off_parts: dict[str, float] = field(default_factory=dict)
    payback_days: int = 30
    breakeven_per_day: float | None = None
    currency: str = ""


@dataclass(frozen=True, slots=True)
class EvaluateResult:
    """What an evaluate run found; paths and numbers, never record contents.

    ``passed`` is the ship decision (the test set's verdict, and the edge set's when
    ``strict_edge``) on the ``judged`` column: the file that ships (``shipped``) where it
    was scored, else the PyTorch student. ``edge_passed`` is None when there is no
    edge-case set. ``warnings`` are the sample-size rules the data breaks, by the splits in
    ``thin_splits`` (a thin set that decides the verdict needs attention). Results stored
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
    judged: str = STUDENT
    shipped: ShippedModel | None = None
    warnings: tuple[str, ...] = ()
    thin_splits: tuple[str, ...] = ()
    temperature_note: str = ""
    gate_on_lower_bound: bool = False
    baseline_verdict: SetVerdict | None = None
    baseline_reason: str = ""
    recommendation: Recommendation | None = None
    referral: Referral | None = None

    @property
    def needs_attention(self) -> str | None:
        """Why this evaluation is not a finished ship decision (None: it is one)."""
        if not self.passed:
            return "the student fails the quality floor: " + self.reason()
        if self.thin_verdict:
            return "the verdict rests on too little data: " + "; ".join(self.warnings)
        return None

    @property
    def thin_verdict(self) -> bool:
        """Whether a set that decides the verdict is smaller than the sample-size rules."""
        deciding = {"test", "edge"} if self.strict_edge else {"test"}
        return bool(deciding & set(self.thin_splits))

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
