"""The evaluate stage: score, calibrate, time, cost, gate, report (DESIGN §4).

``run_evaluate`` reads the held-out sets and stored teacher answers, runs the student, builds
and scores the file the export ships (the student in ONNX INT8, kept in the run folder with
its SHA-256) and the quantize-only baseline (the teacher through the same path), decides
pass or fail against the project's floor per set on the file that ships, recommends what
to ship, writes every figure (with its 95% bootstrap interval) to the ``metrics`` table,
``calibration.json`` next to the model, ``report.html`` and ``reliability.json`` into the
run folder, and returns the verdict with the figures a reader needs in its
:class:`EvaluateResult`. Re-running is safe: nothing it writes depends on an earlier run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.configs import to_json
from core.errors import EvaluateError
from core.evaluate import gate, inputs
from core.evaluate.compare import PRIMARY
from core.evaluate.config import (
    SHIPPED,
    TEACHER,
    CostEstimate,
    EvaluateConfig,
    EvaluateResult,
    HeadlineRow,
    SpeedRow,
)
from core.evaluate.cost import estimate
from core.evaluate.figures import write_reliability
from core.evaluate.latency import torch_threads
from core.evaluate.report import ReportData, render_html, write_report
from core.evaluate.scoring import (
    Job,
    Scored,
    checkpoint,
    require_test_set,
    score_classification,
    score_generation,
)
from core.evaluate.summary import headline, metric_rows, set_summaries, speed_rows
from core.evaluate.verdict import Decision, decide
from core.evaluate.worth_it import WorthItInputs, load_inputs, teacher_cost_per_request
from core.project import Project
from core.reporter import Reporter
from core.store.db import user_errors

if TYPE_CHECKING:
    from core.evaluate.calibration import TemperatureFit
    from core.jobs.registry import RunContext
    from core.project import QualityFloor

_SPLITS = ("validation", "test", "edge")


def run_evaluate(
    project: Project, config: EvaluateConfig, *, run: RunContext, reporter: Reporter
) -> EvaluateResult:
    """Evaluate the student against the teacher and the project's quality floor.

    Raises:
        EvaluateError: nothing trained yet, a student of another label set, or a test split
            that cannot support a verdict (one actionable line).
        StageCancelled: the reporter asked to stop; nothing was written.
    """
    job = _prepare(project, config, reporter, run.id)
    project.audit(
        "evaluate.start",
        {
            "run": run.id,
            "student": to_json(job.student.model_dir, project.path),
            "teacher_id": job.teacher.teacher_id if job.teacher else None,
            "rows": {split: len(s) for split, s in job.sets.items()},
        },
    )
    task = project.settings.task
    with torch_threads(config.threads):
        scored = score_classification(job) if task == "classification" else score_generation(job)
    if "test" not in scored.sets:
        raise EvaluateError(
            "nothing to compare the student with on the test set: no human labels and no "
            "teacher answers",
            f"run `stillroom teach {project.path}` first, or import labelled data",
        )
    checkpoint(reporter, 0.92, "writing the report")
    return _conclude(job, scored)


def _prepare(project: Project, config: EvaluateConfig, reporter: Reporter, run_id: str) -> Job:
    settings = project.settings
    if settings.task == "classification" and len(settings.labels) < 2:
        raise EvaluateError("the project has no label set yet", "import labelled data first")
    student = inputs.find_student(project, config.student)
    inputs.check_label_set(student, settings.labels)
    teacher = inputs.resolve_teacher(project, config.teacher_id, student)
    sets = {
        split: inputs.load_set(project, split, settings.labels, teacher, student.text_source)
        for split in _SPLITS
    }
    require_test_set(sets, len(settings.labels), settings.task)
    return Job(project, config, student, teacher, sets, settings.labels, reporter, run_id)


def _conclude(job: Job, scored: Scored) -> EvaluateResult:
    project, config = job.project, job.config
    worth = load_inputs(project) or WorthItInputs()
    cost = _cost(job, scored, worth)
    _teacher_notes(job, scored)
    rows = headline(scored, cost)
    speed = speed_rows(scored, rows)
    decision = decide(
        scored.sets, config, project.settings.floor, task=project.settings.task,
        rows={split: len(s) for split, s in job.sets.items()}, headline=rows, speed=speed,
        baseline_reason=scored.baseline_reason, latency_need_ms=worth.latency_need_ms,
    )  # fmt: skip
    folder = job.run_dir
    data = _report_data(job, scored, decision, rows, cost)
    with user_errors():
        html_path, pdf_path, pdf_note = write_report(render_html(data), folder)
        reliability = write_reliability(folder, scored.sets, scored.titles)
    notes = [*scored.notes, *([pdf_note] if pdf_note else [])]
    report = (html_path, pdf_path, reliability)
    result = _result(job, scored, decision, rows, speed, cost, report, notes)
    _record(job, scored, decision.verdicts, cost, result)
    job.reporter.progress(1.0, "evaluation " + ("passed" if result.passed else "FAILED the floor"))
    return result


def _teacher_notes(job: Job, scored: Scored) -> None:
    humans = "reference texts" if job.project.settings.task == "generation" else "human labels"
    if job.teacher is None:
        scored.notes.append(
            f"the project has no teacher outputs: evaluated against the {humans} only; "
            "retention cannot be computed"
        )
    else:
        scored.notes += _weak_teacher(job, scored)
    if job.teacher is not None and job.teacher.kind == "labels":
        scored.titles[TEACHER] = f"teacher ({humans})"
        scored.notes.append(
            f"the teacher is the {humans} themselves: it scores 1 against them by "
            "definition, so retention is the student's own metric"
        )


WEAK_TEACHER = 0.5  # below this primary metric, retention alone says little


def _weak_teacher(job: Job, scored: Scored) -> list[str]:
    """A retention floor against a weak teacher passes a student as weak as it (issue 17:
    ROUGE-L 0.31): say so, and suggest an absolute floor, when there is none."""
    test = scored.sets.get("test")
    teacher = None if test is None else test.models.get(TEACHER)
    floor = job.project.settings.floor
    if teacher is None or test is None or test.reference != "human" or floor.min_metric:
        return []
    if teacher.primary is None or teacher.primary >= WEAK_TEACHER:
        return []
    return [
        f"the teacher scores only {teacher.primary:.3f} against the human references on the "
        f"test set: a student that keeps {floor.min_retention:.0%} of that can still be "
        f"unusable; set a minimum metric on the project (for example {WEAK_TEACHER:g})"
    ]


def _cost(job: Job, scored: Scored, worth: WorthItInputs) -> CostEstimate:
    def throughput(model: str) -> float | None:
        speed = [x for x in scored.latencies if x.model == model and x.device == "cpu"]
        return speed[0].throughput_per_s if speed else None

    train = job.student.train_run
    hours = None
    if train is not None and train.started and train.finished:
        started, finished = (datetime.fromisoformat(t) for t in (train.started, train.finished))
        hours = max((finished - started).total_seconds(), 0.0) / 3600
    rate = job.config.hardware_cost_per_hour
    return estimate(
        teacher=inputs.teacher_cost(job.project, job.teacher) if job.teacher else None,
        teacher_price_per_request=teacher_cost_per_request(worth),
        teacher_throughput=throughput(TEACHER),
        student_throughput=throughput(SHIPPED) if scored.shipped else None,
        hardware_cost_per_hour=worth.hardware_cost_per_hour if rate is None else rate,
        train_hours=hours,
        payback_days=job.config.payback_days,
        currency=worth.currency,
    )


def _report_data(
    job: Job, scored: Scored, decision: Decision, rows: list[HeadlineRow], cost: CostEstimate
) -> ReportData:
    settings = job.project.settings
    return ReportData(
        project=job.project.path,
        run_id=job.run_id,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        task=settings.task,
        labels=settings.labels,
        floor=settings.floor,
        student_dir=job.student.model_dir,
        train_run=job.student.train_run.id if job.student.train_run else None,
        text_source=job.student.text_source,
        teacher_id=job.teacher.teacher_id if job.teacher else None,
        primary_metric=PRIMARY[settings.task],
        sets=scored.sets,
        decision=decision,
        strict_edge=job.config.strict_edge,
        titles=scored.titles,
        headline=rows,
        temperature=scored.fit,
        calibration_file=scored.calibration_file,
        latencies=scored.latencies,
        cost=cost,
        baseline_reason=scored.baseline_reason,
        baseline_fit=scored.baseline_fit,
        shipped=scored.shipped,
        gate_on_bound=job.config.gate_on_lower_bound,
        notes=list(scored.notes),
        monitoring=_monitoring_plan(settings.floor, rows, decision.judged, scored.fit),
        frontier=inputs.auto_frontier(job.project, job.student.train_run),
    )


def _monitoring_plan(floor: QualityFloor, rows: list[HeadlineRow], judged: str,
                     fit: TemperatureFit | None) -> list[str]:  # fmt: skip
    """The monitoring plan with this evaluation's test figures (``core.monitor.plan``)."""
    from core.monitor.plan import floors, plan_lines

    teacher = next((r for r in rows if r.split == "test" and r.model == TEACHER), None)
    student = next((r for r in rows if r.split == "test" and r.model == judged), None)
    found = floors(floor.min_retention, min_metric=floor.min_metric,
                   teacher_metric=None if teacher is None else teacher.metric,
                   test_agreement=None if student is None else student.agreement)  # fmt: skip
    temperature = None if fit is None or fit.temperature == 1.0 else fit.temperature
    return plan_lines(found, owner=None, temperature=temperature)


def _result(
    job: Job,
    scored: Scored,
    decision: Decision,
    rows: list[HeadlineRow],
    speed: tuple[SpeedRow, ...],
    cost: CostEstimate,
    report: tuple[Path, Path | None, Path | None],  # report.html, its PDF, reliability.json
    notes: list[str],
) -> EvaluateResult:
    verdicts = decision.verdicts
    failures = [f"{split}: {c.describe()}" for split, v in verdicts.items() for c in v.failures]
    edge = verdicts.get("edge")
    set_notes = [f"{r.split}: {n}" for r in scored.sets.values() for n in r.notes]
    return EvaluateResult(
        run_id=job.run_id,
        task=job.project.settings.task,
        primary_metric=PRIMARY[job.project.settings.task],
        reference=scored.sets["test"].reference,
        student_dir=job.student.model_dir,
        teacher_id=job.teacher.teacher_id if job.teacher else None,
        passed=decision.passed,
        test_passed=verdicts["test"].passed,
        edge_passed=None if edge is None else edge.passed,
        failures=tuple(failures),
        temperature=scored.fit.temperature if scored.fit else None,
        calibration_file=scored.calibration_file,
        report_html=report[0],
        report_pdf=report[1],
        headline=tuple(rows),
        notes=tuple(dict.fromkeys([*notes, *set_notes])),
        labels=job.labels,
        strict_edge=job.config.strict_edge,
        sets=set_summaries(scored, verdicts, job.labels, decision.judged),
        speed=speed,
        cost=cost,
        reliability_file=report[2],
        judged=decision.judged,
        shipped=scored.shipped,
        warnings=tuple(decision.warnings.values()),
        thin_splits=tuple(decision.warnings),
        temperature_note=scored.fit.reason if scored.fit else "",
        gate_on_lower_bound=job.config.gate_on_lower_bound,
        baseline_verdict=decision.baseline,
        baseline_reason=scored.baseline_reason,
        recommendation=decision.recommendation,
        referral=decision.referral,
    )


def _record(
    job: Job,
    scored: Scored,
    verdicts: dict[str, gate.SetVerdict],
    cost: CostEstimate,
    result: EvaluateResult,
) -> None:
    """Metrics rows and the audit entry, in one transaction."""
    rows = metric_rows(scored, verdicts, cost, job.labels, result.passed)
    for row in result.headline:
        if row.model == result.judged and row.metric is not None:
            job.reporter.metric(f"{row.split}/student_{result.primary_metric}", row.metric)
    with job.project.store.transaction() as conn:
        # A resumed run replaces its figures rather than doubling them.
        conn.execute("DELETE FROM metrics WHERE run_id = ?", (job.run_id,))
        conn.executemany(
            "INSERT INTO metrics (run_id, split, name, value) VALUES (?, ?, ?, ?)",
            [(job.run_id, split, name, value) for split, name, value in rows],
        )
        job.project.audit(
            "evaluate.finish",
            {
                "run": job.run_id,
                "passed": result.passed,
                "test_passed": result.test_passed,
                "edge_passed": result.edge_passed,
                "failures": list(result.failures),
                "temperature": result.temperature,
                "report": to_json(result.report_html, job.project.path),
            },
        )


__all__ = ["EvaluateConfig", "EvaluateResult", "run_evaluate"]
