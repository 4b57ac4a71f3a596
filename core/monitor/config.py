"""What ``stillroom monitor`` and ``stillroom redistill`` are asked to do, and what they
report. Frozen dataclasses of paths, names and numbers: figures and alerts, never text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from core.errors import UserError
from core.monitor.plan import MAX_ERROR_RATE, Floors

Window = Literal["auto", "hour", "day", "week"]
WINDOWS: tuple[str, ...] = get_args(Window)
Start = Literal["student", "base"]
STARTS: tuple[str, ...] = get_args(Start)
# A stopped re-distillation resumes with these changed (the key, an audited override).
REDISTILL_RESUME_IGNORES = frozenset({"input_key_file", "override_parity"})


class MonitorError(UserError):
    """The monitor or re-distillation cannot run as asked."""


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """The monitor's settings (``stillroom monitor PROJECT --log LOG…``).

    Attributes:
        logs: prediction logs to import first: a server's log folder, or a file
            ``stillroom serve-log export`` wrote (``.jsonl``). None: judge what is stored.
        window: ``auto`` (the shortest unit whose median window holds enough requests),
            ``hour``, ``day`` or ``week``.
        window_rows: a fixed number of requests per window instead of a time unit (a
            replay or a bench, whose requests carry no meaningful times).
        bundle_sha: the served bundle to judge (SHA-256 of its manifest; default: the one
            whose traffic is newest).
        bundle: the bundle itself, where it is not one of the project's exports.
        max_error_rate: alert when a window's share of refused or failed requests is above
            this, the whole 95% interval included.
        seed: seeds the drift tests' splits and the estimate's draws.
    """

    logs: tuple[Path, ...] = ()
    window: Window = "auto"
    window_rows: int | None = None
    bundle_sha: str | None = None
    bundle: Path | None = None
    max_error_rate: float = MAX_ERROR_RATE
    seed: int = 0

    def validate(self) -> None:
        """Check the options.

        Raises:
            MonitorError: a value is out of range.
        """
        if self.window not in WINDOWS:
            raise MonitorError("--window must be auto, hour, day or week")
        if self.window_rows is not None and self.window_rows < 20:
            raise MonitorError("--window-rows must be at least 20")
        if not 0.0 <= self.max_error_rate < 1.0:
            raise MonitorError("--max-error-rate must be at least 0 and below 1")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert or warning on one window: what happened and what to do next (no text)."""

    window: int
    start: str
    kind: str
    severity: Literal["alert", "warning"]
    message: str
    next_step: str


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """One window's figures (None: too few rows to test or estimate).

    ``input_auc`` is the classifier two-sample test's AUC (0.5: like the training data);
    ``bucket_distance`` the total variation distance between the window's n-gram bucket
    shares and the training data's (0: the same mix; a hashed fingerprint cannot name an
    unseen word, so this is the out-of-vocabulary signal it can give). ``requests`` counts
    the answered requests, ``errors`` the refused or failed ones, ``error_rate`` their share
    of both (with its 95% interval) and ``error_kinds`` the failures per kind.
    ``prior_adjusted``: the label-drift test's p-value is below ``PRIOR_SHIFT_P``, so the
    estimate reads the probabilities adjusted to the window's label mix
    (``core.monitor.estimate.adjust_to_priors``).
    """

    index: int
    start: str
    end: str
    rows: int
    tested: bool
    input_auc: float | None = None
    input_p: float | None = None
    label_chi2: float | None = None
    label_p: float | None = None
    label_psi: float | None = None
    confidence_ks: float | None = None
    confidence_p: float | None = None
    length_ks: float | None = None
    length_p: float | None = None
    bucket_distance: float | None = None
    mean_confidence: float | None = None
    accuracy: float | None = None
    accuracy_low: float | None = None
    accuracy_high: float | None = None
    macro_f1: float | None = None
    macro_f1_low: float | None = None
    macro_f1_high: float | None = None
    shadow_sampled: int = 0
    shadow_answers: int = 0
    shadow_lost: int = 0
    shadow_agreement: float | None = None
    shadow_low: float | None = None
    shadow_high: float | None = None
    label_counts: tuple[int, ...] = ()
    requests: int = 0
    errors: int = 0
    error_rate: float | None = None
    error_low: float | None = None
    error_high: float | None = None
    error_kinds: tuple[tuple[str, int], ...] = ()
    prior_adjusted: bool = False


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """What a monitor run found.

    Attributes:
        bundle_sha: the judged bundle (SHA-256 of its manifest).
        read, new, updated: log rows read, stored for the first time, filled in later.
        rows: the judged bundle's stored requests.
        window: the window used (``hour``, ``day``, ``week`` or ``N requests``).
        temperature: the bundle's temperature; ``calibrated`` whether one was kept.
        estimate_note: why the label-free estimate may be trusted (or may not).
        floors: the floors the windows are judged against.
        windows: the windows, oldest first.
        alerts: alerts and warnings, oldest first.
        worst: production row ids of the requests furthest from the training data.
        plan: the monitoring plan, as sentences.
        labels: the bundle's labels, in its order.
    """

    bundle_sha: str
    read: int
    new: int
    updated: int
    rows: int
    window: str
    temperature: float | None
    calibrated: bool
    estimate_note: str
    floors: Floors
    windows: tuple[WindowFigures, ...]
    alerts: tuple[Alert, ...]
    worst: tuple[int, ...] = ()
    plan: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def alerting(self) -> bool:
        """Whether any window raised an alert (not only a warning)."""
        return any(a.severity == "alert" for a in self.alerts)


@dataclass(frozen=True, slots=True)
class RedistillConfig:
    """Re-distillation's settings (``stillroom redistill PROJECT``).

    Attributes:
        budget: the most production requests the teacher labels for training.
        slice_size: production requests held out, labelled by the teacher, to evaluate on
            (drawn at random, never trained on).
        start: train from the current ``student`` or from the ``base`` model it came from.
        layers: cut a student of this many layers afresh from the model the base student was
            cut from (implies ``base``): a larger student for traffic the current one cannot
            follow (None: the current student's size).
        sampling: ``uncertainty`` (least confident and most drifted first) or ``random``.
        epochs: training epochs (default: the last training run's).
        input_key_file: the server's Fernet key, for inputs kept ``encrypted``.
        bundle_sha: whose traffic to use (default: the newest).
        out: the new bundle (default: ``exports/<parent name>-r<N>``).
        override_parity: export although INT8 agreement with the PyTorch student is below
            the export's threshold; the reason is audited (as ``stillroom export``).
        seed: seeds the random slice and random sampling.
    """

    budget: int = 500
    slice_size: int = 200
    start: Start = "student"
    layers: int | None = None
    sampling: Literal["uncertainty", "random"] = "uncertainty"
    epochs: float | None = None
    input_key_file: Path | None = None
    bundle_sha: str | None = None
    out: Path | None = None
    override_parity: str | None = None
    seed: int = 0

    def validate(self) -> None:
        """Check the options.

        Raises:
            MonitorError: a value is out of range.
        """
        if self.budget < 1 or self.slice_size < 0:
            raise MonitorError("--budget must be at least 1 and --slice at least 0")
        if self.start not in STARTS:
            raise MonitorError("--from must be student or base")
        if self.layers is not None and self.layers < 1:
            raise MonitorError("--layers must be at least 1", "for example --layers 4")


@dataclass(frozen=True, slots=True)
class SliceFigures:
    """A model on the production slice, against the teacher's labels."""

    model: str
    rows: int
    accuracy: float
    macro_f1: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class RedistillResult:
    """What a re-distillation did: the runs it started, the slice figures, the new bundle.

    ``passed``: the new student passed the floor on the original test set (the evaluation)
    and its agreement with the teacher on the production slice is at least the floor's;
    ``test_passed``: the first half alone (None: a result stored before it was recorded).
    """

    parent_sha: str
    chosen: int
    slice_rows: int
    teacher_cost: float
    train_run: str
    evaluate_run: str
    export_run: str | None
    bundle: Path | None
    passed: bool
    before: SliceFigures | None
    after: SliceFigures | None
    slice_floor: float | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    test_passed: bool | None = None

    def verdicts(self) -> list[str]:
        """The test-set verdict and the production slice's, each said on its own."""
        tested = self.test_passed if self.test_passed is not None else self.passed
        lines = [f"original test set: the new student {'passes' if tested else 'fails'} the "
                 f"floor (evaluation {self.evaluate_run})"]  # fmt: skip
        after, floor = self.after, self.slice_floor
        if after is None:
            lines.append("production slice: not scored (no bundle, or no slice the teacher "
                         "labelled)")  # fmt: skip
        elif floor is None:
            lines.append(f"production slice: agreement {after.accuracy:.1%} (no floor to "
                         "judge it by)")  # fmt: skip
        else:
            verdict = "meets" if after.accuracy >= floor else "is below"
            lines.append(f"production slice: agreement {after.accuracy:.1%} {verdict} the "
                         f"floor {floor:.1%}")  # fmt: skip
        return lines
