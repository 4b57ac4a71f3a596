"""Running the model columns: the student, the file that ships and the quantize-only
baseline on every set, the temperatures fitted on the validation split, and the timings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import EvaluateError
from core.evaluate.baseline import plan_baseline
from core.evaluate.calibration import TemperatureFit, choose_temperature, save_calibration
from core.evaluate.compare import SetResult, classification_set, generation_set
from core.evaluate.config import BASELINE, SHIPPED, STUDENT, TEACHER, EvaluateConfig, ShippedModel
from core.evaluate.inputs import EvalSet, StudentSource, TeacherRef
from core.evaluate.latency import Latency, measure
from core.evaluate.metrics import FloatArray
from core.evaluate.scorers import ClassifierScorer, HFClassifierScorer, Scorer
from core.project import Project
from core.reporter import Reporter, StageCancelled

EVAL_SPLITS = ("test", "edge")
Logits = dict[str, FloatArray]  # split -> logits


@dataclass
class Scored:
    """What the model runs produced, for the gate, the metrics table and the report."""

    sets: dict[str, SetResult]
    titles: dict[str, str]
    fit: TemperatureFit | None = None
    calibration_file: Path | None = None
    latencies: list[Latency] = field(default_factory=list)
    sizes_mb: dict[str, float] = field(default_factory=dict)
    baseline_reason: str = ""
    baseline_fit: TemperatureFit | None = None
    shipped: ShippedModel | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Job:
    """The inputs every model run needs."""

    project: Project
    config: EvaluateConfig
    student: StudentSource
    teacher: TeacherRef | None
    sets: dict[str, EvalSet]
    labels: tuple[str, ...]
    reporter: Reporter
    run_id: str

    @property
    def run_dir(self) -> Path:
        return self.project.run_dir(self.run_id)


def checkpoint(reporter: Reporter, fraction: float, message: str) -> None:
    """Report progress and stop here if the user asked to (nothing is half-written)."""
    reporter.progress(fraction, message)
    if reporter.cancel_requested():
        raise StageCancelled


def _logits(
    job: Job, scorer: ClassifierScorer, split: str, span: tuple[float, float]
) -> FloatArray:
    texts = job.sets[split].texts
    out = np.zeros((0, len(job.labels)))
    step = max(job.config.batch_size * 8, 1)
    for start in range(0, len(texts), step):
        fraction = span[0] + (span[1] - span[0]) * start / max(len(texts), 1)
        checkpoint(job.reporter, fraction, f"{scorer.name}: scoring the {split} set")
        out = np.vstack([out, scorer.logits(texts[start : start + step], job.config.batch_size)])
    return out


def _all_logits(
    job: Job, scorer: ClassifierScorer, spans: dict[str, tuple[float, float]]
) -> Logits:
    return {split: _logits(job, scorer, split, span) for split, span in spans.items()}


def score_classification(job: Job) -> Scored:
    """Score the student, the file that ships and the INT8 teacher on every set."""
    checkpoint(job.reporter, 0.03, "loading the student")
    student = HFClassifierScorer(
        job.student.model_dir, job.labels, name=STUDENT, max_length=job.student.max_length
    )
    scored = Scored(sets={}, titles={TEACHER: "teacher (stored answers)", STUDENT: student.title})
    try:
        spans = {"validation": (0.05, 0.15), "test": (0.15, 0.3), "edge": (0.3, 0.35)}
        logits = _all_logits(job, student, spans)
        scored.notes += student.warnings
        _time(job, student, scored, 0.38)
    finally:
        student.close()
    scored.fit = _calibrate(job, logits["validation"])
    _save_calibration(job, scored)
    columns, temperatures = {STUDENT: logits}, {}
    if scored.fit is not None and scored.fit.kept:
        temperatures[STUDENT] = temperatures[SHIPPED] = scored.fit.temperature
    shipped = _shipped_logits(job, scored)
    if shipped is not None:
        columns[SHIPPED] = shipped
    baseline = _baseline_logits(job, scored)
    if baseline is not None:
        columns[BASELINE] = baseline
        if scored.baseline_fit is not None and scored.baseline_fit.kept:
            temperatures[BASELINE] = scored.baseline_fit.temperature
    for split in EVAL_SPLITS:
        per_model = {name: values[split] for name, values in columns.items()}
        result = classification_set(job.sets[split], per_model, temperatures, len(job.labels))
        if result is not None:
            scored.sets[split] = result
    return scored


def _calibrate(job: Job, logits: FloatArray) -> TemperatureFit | None:
    """The temperature for ``logits`` of the validation split (T = 1 unless it helps)."""
    validation, k = job.sets["validation"], len(job.labels)
    use_human = bool((validation.human >= 0).any())
    ref = validation.human if use_human else validation.teacher
    rows = ref >= 0 if use_human else (ref >= 0) & (ref < k)
    if not rows.any():
        return None
    minimum = job.config.sample_sizes.validation
    return choose_temperature(logits[rows], ref[rows], min_rows=minimum)


def _save_calibration(job: Job, scored: Scored) -> None:
    if scored.fit is None:
        scored.notes.append("no labelled validation rows: no temperature was fitted")
        return
    try:
        scored.calibration_file = save_calibration(
            job.student.model_dir, scored.fit, run_id=job.run_id
        )
    except OSError:
        scored.calibration_file = save_calibration(job.run_dir, scored.fit, run_id=job.run_id)
        scored.notes.append(
            "the student folder is read-only: calibration.json is in the run "
            "folder; copy it next to the model before export"
        )


def _time(job: Job, scorer: Scorer, scored: Scored, fraction: float) -> None:
    scored.sizes_mb[scorer.name] = scorer.size_bytes() / 1e6
    if not job.config.measure_latency:
        return
    checkpoint(job.reporter, fraction, f"{scorer.name}: timing")
    texts = job.sets["test"].texts
    scored.latencies += measure(scorer, texts, runs=job.config.latency_runs)


def _shipped_logits(job: Job, scored: Scored) -> Logits | None:
    """The student exported and quantized as the export ships it, kept in the run folder."""
    from core.evaluate.columns import build_shipped

    if not job.config.score_shipped:
        scored.notes.append(
            "the file that ships (ONNX INT8) was not scored in this run: the gate judged the "
            "PyTorch student, and the export scores the file it writes"
        )
        return None
    checkpoint(job.reporter, 0.4, "exporting and quantizing the student as it ships")
    scorer, reason = build_shipped(job.student.model_dir, job.labels, job.run_dir,
                                   job.config.threads)  # fmt: skip
    if scorer is None:
        scored.notes.append(f"the file that ships could not be built here: {reason}")
        return None
    try:
        scored.titles[SHIPPED] = "student as shipped (ONNX INT8)"
        logits = _all_logits(job, scorer, {"test": (0.5, 0.58), "edge": (0.58, 0.6)})
        _time(job, scorer, scored, 0.6)
        scored.shipped = scorer.shipped()
    finally:
        scorer.close()
    return logits


def _baseline_logits(job: Job, scored: Scored) -> Logits | None:
    """The teacher through the same ONNX INT8 path, with its own validation temperature."""
    from core.evaluate.columns import build_baseline

    if not job.config.quantize_baseline:
        scored.baseline_reason = "switched off for this run"
        return None
    plan = plan_baseline(job.project, job.teacher.teacher_id if job.teacher else None)
    if plan.folder is None:
        scored.baseline_reason = plan.reason
        return None
    checkpoint(job.reporter, 0.65, "timing the teacher")
    teacher = HFClassifierScorer(plan.folder, job.labels, name=TEACHER)
    try:
        _time(job, teacher, scored, 0.65)
    finally:
        teacher.close()
    checkpoint(job.reporter, 0.7, "exporting and quantizing the teacher")
    quantized, reason, scratch = build_baseline(plan.folder, job.labels, job.run_dir,
                                                job.config.threads)  # fmt: skip
    try:
        if quantized is None:
            scored.baseline_reason = f"the teacher could not be quantized here: {reason}"
            return None
        scored.titles[BASELINE] = "teacher ONNX INT8 (quantize only)"
        spans = {"validation": (0.75, 0.8), "test": (0.8, 0.86), "edge": (0.86, 0.88)}
        # The stored soft labels were softmax(logits / t): the baseline is scaled the same.
        logits = {s: v / plan.temperature for s, v in _all_logits(job, quantized, spans).items()}
        _time(job, quantized, scored, 0.88)
    finally:
        if quantized is not None:
            quantized.close()
        scratch.cleanup()
    scored.baseline_fit = _calibrate(job, logits["validation"])
    return logits


def score_generation(job: Job) -> Scored:
    """Generate with the student on every set and score it against the teacher's text."""
    from core.evaluate.causal import HFGeneratorScorer

    checkpoint(job.reporter, 0.03, "loading the student")
    template = job.student.teacher_value("prompt_template")
    student = HFGeneratorScorer(
        job.student.model_dir,
        name=STUDENT,
        max_new_tokens=job.config.max_new_tokens,
        prompt_template=template if isinstance(template, str) else None,
    )
    scored = Scored(sets={}, titles={"teacher": "teacher (stored text)", STUDENT: student.title})
    try:
        for split, (lo, hi) in (("test", (0.05, 0.5)), ("edge", (0.5, 0.65))):
            texts = job.sets[split].texts
            generated = _generate(job, student.generate, texts, split, (lo, hi))
            result = generation_set(job.sets[split], {STUDENT: generated})
            if result is not None:
                scored.sets[split] = result
        _time(job, student, scored, 0.7)
    finally:
        student.close()
    scored.baseline_reason = (
        "for generation the quantize-only baseline needs the export "
        "stage's ONNX INT8 path, not built yet"
    )
    scored.notes.append(
        "the file that ships is not scored here for generation: the export quantizes the "
        "weights, ships the smallest file that keeps this student's next token and either its "
        "greedy answers or its test score (within 0.01), and scores that file on the test set "
        "(its figures are in the export's output and the card)"
    )
    return scored


def _generate(
    job: Job,
    generate: Callable[[list[str], int], list[str]],
    texts: list[str],
    split: str,
    span: tuple[float, float],
) -> list[str]:
    out: list[str] = []
    step = max(job.config.batch_size, 1)
    for start in range(0, len(texts), step):
        fraction = span[0] + (span[1] - span[0]) * start / max(len(texts), 1)
        checkpoint(job.reporter, fraction, f"student: generating on the {split} set")
        out += generate(texts[start : start + step], job.config.batch_size)
    return out


def require_test_set(sets: dict[str, EvalSet], k: int, task: str) -> None:
    """Refuse a test split that cannot support a verdict.

    Raises:
        EvaluateError: no test rows, or (classification) one class only in its reference.
    """
    test = sets["test"]
    if not len(test):
        raise EvaluateError(
            "the project has no test records to evaluate on",
            "import data with a test share (--split 0.8,0.1,0.1)",
        )
    if task != "classification":
        return
    has_human = test.human >= 0
    ref = test.human[has_human] if has_human.any() else test.teacher[test.teacher >= 0]
    ref = ref[ref < k]
    if ref.size and np.unique(ref).size < 2:
        raise EvaluateError(
            "the test split holds one class only, so it cannot show whether the student "
            "tells the classes apart",
            "re-import with a stratified split over more data (every class in test)",
        )
