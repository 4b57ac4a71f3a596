"""Running the model columns: the student (and the quantize-only baseline) on every set,
the temperature fit on the validation split, and the timings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import EvaluateError
from core.evaluate.baseline import plan_baseline
from core.evaluate.calibration import TemperatureFit, fit_temperature, save_calibration
from core.evaluate.compare import SetResult, classification_set, generation_set
from core.evaluate.config import STUDENT, EvaluateConfig
from core.evaluate.inputs import EvalSet, StudentSource, TeacherRef
from core.evaluate.latency import Latency, measure
from core.evaluate.metrics import FloatArray
from core.evaluate.scorers import ClassifierScorer, HFClassifierScorer, Scorer
from core.project import Project
from core.reporter import Reporter, StageCancelled

BASELINE = "teacher_int8"
EVAL_SPLITS = ("test", "edge")


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


def score_classification(job: Job) -> Scored:
    """Score the student (and the INT8 teacher where possible) on every set."""
    checkpoint(job.reporter, 0.03, "loading the student")
    student = HFClassifierScorer(
        job.student.model_dir, job.labels, name=STUDENT, max_length=job.student.max_length
    )
    try:
        logits = {
            s: _logits(job, student, s, span)
            for s, span in (("validation", (0.05, 0.2)), ("test", (0.2, 0.4)), ("edge", (0.4, 0.5)))
        }
        scored = Scored(
            sets={}, titles={"teacher": "teacher (stored answers)", STUDENT: student.title}
        )
        scored.notes += student.warnings
        _calibrate(job, logits["validation"], scored)
        _time(job, student, scored, 0.55)
    finally:
        student.close()
    columns = {STUDENT: logits}
    temperatures = {STUDENT: scored.fit.temperature} if scored.fit else {}
    baseline = _baseline_logits(job, scored)
    if baseline is not None:
        columns[BASELINE] = baseline
    for name, values in _extra_logits(job, scored).items():
        columns[name] = values
        if scored.fit:  # the same model as the student: its temperature ships with it
            temperatures[name] = scored.fit.temperature
    for split in EVAL_SPLITS:
        per_model = {name: values[split] for name, values in columns.items()}
        result = classification_set(job.sets[split], per_model, temperatures, len(job.labels))
        if result is not None:
            scored.sets[split] = result
    return scored


def _calibrate(job: Job, logits: FloatArray, scored: Scored) -> None:
    validation, k = job.sets["validation"], len(job.labels)
    use_human = bool((validation.human >= 0).any())
    ref = validation.human if use_human else validation.teacher
    rows = ref >= 0 if use_human else (ref >= 0) & (ref < k)
    if not rows.any():
        scored.notes.append("no labelled validation rows: no temperature was fitted")
        return
    scored.fit = fit_temperature(logits[rows], ref[rows])
    try:
        scored.calibration_file = save_calibration(
            job.student.model_dir, scored.fit, run_id=job.run_id
        )
    except OSError:
        folder = job.project.run_dir(job.run_id)
        scored.calibration_file = save_calibration(folder, scored.fit, run_id=job.run_id)
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


def _baseline_logits(job: Job, scored: Scored) -> dict[str, FloatArray] | None:
    if not job.config.quantize_baseline:
        scored.baseline_reason = "switched off for this run"
        return None
    plan = plan_baseline(job.project, job.teacher.teacher_id if job.teacher else None)
    if plan.folder is None:
        scored.baseline_reason = plan.reason
        return None
    checkpoint(job.reporter, 0.7, "timing the teacher")
    teacher = HFClassifierScorer(plan.folder, job.labels, name="teacher")
    try:
        _time(job, teacher, scored, 0.7)
    finally:
        teacher.close()
    quantized = HFClassifierScorer(plan.folder, job.labels, name=BASELINE, quantize=True)
    scored.titles[BASELINE] = "teacher INT8 (quantize only)"
    try:
        # The stored soft labels were softmax(logits / t): the baseline is scaled the same.
        logits = {
            s: _logits(job, quantized, s, span) / plan.temperature
            for s, span in (("test", (0.75, 0.85)), ("edge", (0.85, 0.88)))
        }
        _time(job, quantized, scored, 0.88)
    finally:
        quantized.close()
    return logits


def _extra_logits(job: Job, scored: Scored) -> dict[str, dict[str, FloatArray]]:
    """Logits of the plugged-in columns (the exported ONNX INT8 student) on test and edge."""
    from core.evaluate.columns import build_columns

    if not job.config.extra_columns:
        return {}
    checkpoint(job.reporter, 0.89, "building the exported student's column")
    root = job.project.run_dir(job.run_id)
    built, notes = build_columns(job.student.model_dir, job.labels, root)
    scored.notes += notes
    out = {}
    for scorer, scratch in built:
        try:
            scored.titles[scorer.name] = scorer.title
            out[scorer.name] = {s: _logits(job, scorer, s, (0.9, 0.91)) for s in EVAL_SPLITS}
            _time(job, scorer, scored, 0.91)
        finally:
            scorer.close()
            scratch.cleanup()
    return out


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
