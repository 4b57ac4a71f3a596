"""The teach stage: anonymized records in, stored teacher outputs out (DESIGN §4).

``run_teach`` picks the source, labels every eligible record that has no stored output for
this teacher and prompt version yet, writes each batch in one transaction (so a kill loses
at most the batch in flight), and reports the teacher's figure against the human references
(accuracy against the labels; generation: ROUGE-L against the reference texts)
(``preview.py`` holds the dry run). Which teacher answers is :mod:`core.teacher.sources`'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from core import netguard
from core.errors import TeacherError, UserError
from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.store import anonymized, teacher_outputs
from core.store.metrics import add_metrics
from core.teacher import outputs
from core.teacher.base import Teacher
from core.teacher.config import TeachConfig, TeachResult, endpoint_host
from core.teacher.prompts import PromptTemplate, load_template
from core.teacher.sources import SOURCES, TeacherSource, resolve, spec_form
from core.teacher.transport import audit_transport

if TYPE_CHECKING:
    from core.jobs.registry import RunContext


def run_teach(
    project: Project, config: TeachConfig, *, run: RunContext, reporter: Reporter
) -> TeachResult:
    """Label the project's anonymized records with the configured teacher.

    Re-running skips what is stored, so a killed or cancelled run resumes where it stopped.

    Raises:
        TeacherError: the teacher cannot be loaded, reached or used (one actionable line).
        UserError: the project has no anonymized records, or no label set.
        StageCancelled: the reporter asked to stop; finished batches are stored.
    """
    run_id = run.id
    task, labels = task_and_labels(project)
    source, location = resolve(config.teacher)
    check_inputs(project, config, source, labels)
    template = load_template(project, task, config.prompt_file) if source.needs_prompt else None
    with netguard.allowed(endpoint_host(config)):
        audit_transport(project, config, run_id)
        teacher = source.build(config, location, task, labels, template)
        try:
            return _label_all(project, config, source, teacher, template, labels, reporter,
                              run_id)  # fmt: skip
        finally:
            teacher.close()


def _label_all(
    project: Project,
    config: TeachConfig,
    source: TeacherSource,
    teacher: Teacher,
    template: PromptTemplate | None,
    labels: tuple[str, ...],
    reporter: Reporter,
    run_id: str,
) -> TeachResult:
    version = "" if template is None else template.version
    ident = {"teacher_id": teacher.teacher_id, "prompt_version": version}
    need_text = source.needs_text
    eligible = teacher_outputs.count_eligible(project.store, need_text=need_text, labels=labels)
    already = teacher_outputs.count_stored(project.store, teacher.teacher_id, version)
    todo = max(eligible - already, 0)
    todo = todo if config.limit is None else min(todo, config.limit)
    project.audit("teach.start", {**ident, "run": run_id, "eligible": eligible,
                                  "already_stored": already})  # fmt: skip
    items = outputs.pending_items(
        project, teacher.teacher_id, version, need_text=need_text, labels=labels,
        limit=config.limit,
    )  # fmt: skip
    tally, start = outputs.Tally(), time.perf_counter()
    for batch in teacher.outputs(items):
        outputs.write_batch(
            project, batch, teacher_id=teacher.teacher_id, prompt_version=version,
            run_id=run_id, prices=(config.price_in, config.price_out), labels=len(labels),
            tally=tally,
        )  # fmt: skip
        _report_batch(reporter, tally, todo, time.perf_counter() - start)
        if reporter.cancel_requested():
            project.audit("teach.cancel", {
                **ident, "run": run_id, "labelled": tally.labelled, "invalid": tally.invalid,
                "failed": tally.failed, "invalid_reasons": tally.reasons,
                "cost": round(tally.cost, 6)})  # fmt: skip
            raise StageCancelled
    seconds = time.perf_counter() - start
    result = _result(project, config, source, teacher, template, tally, eligible, already,
                     seconds)  # fmt: skip
    _report(project, reporter, result, run_id)
    return result


def _report_batch(reporter: Reporter, tally: outputs.Tally, todo: int, seconds: float) -> None:
    """Progress, plus the running figures a GUI shows live (rate, cost, failures)."""
    done = tally.labelled + tally.failed
    reporter.progress(
        min(done / todo, 0.999) if todo else 0.999,
        f"{done:,}/{todo:,} records, cost so far {tally.cost:.4f}",
    )
    reporter.metric("teach/records", done)
    reporter.metric("teach/records_per_s", tally.labelled / seconds if seconds > 0 else 0.0)
    reporter.metric("teach/cost", tally.cost)
    reporter.metric("teach/failed", tally.failed)


def _result(
    project: Project,
    config: TeachConfig,
    source: TeacherSource,
    teacher: Teacher,
    template: PromptTemplate | None,
    tally: outputs.Tally,
    eligible: int,
    already: int,
    seconds: float,
) -> TeachResult:
    version = "" if template is None else template.version
    accuracy, counts = outputs.agreement(project, teacher.teacher_id, version)
    warnings = list(dict.fromkeys(teacher.warnings))
    if template is not None and template.text.strip() == "{text}":
        warnings.append(
            "the prompt is the bare text with no instruction: an LLM then echoes the text or "
            "rambles; pass --prompt FILE with the instruction around {text}"
        )
    warnings += _quality_warnings(project, accuracy, tally)
    return TeachResult(
        teacher_id=teacher.teacher_id,
        teacher_kind=source.kind,
        prompt_version=version,
        task=project.settings.task,
        eligible=eligible,
        already_stored=already,
        labelled=tally.labelled,
        invalid=tally.invalid,
        failed=tally.failed,
        cost=round(tally.cost, 6),
        cost_total=round(teacher_outputs.cost_total(project.store, teacher.teacher_id, version), 6),
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        attempts=tally.attempts,
        seconds=round(seconds, 3),
        records_per_s=round(tally.labelled / seconds, 2) if seconds > 0 else 0.0,
        soft_label_sources=tally.sources,
        accuracy={k: round(v, 4) for k, v in accuracy.items()},
        accuracy_n=counts,
        warnings=tuple(warnings),
        invalid_reasons=dict(tally.reasons),
        failed_reasons=dict(tally.failed_reasons),
        usage_ignored=tally.usage_ignored,
    )


def _quality_warnings(
    project: Project, accuracy: dict[str, float], tally: outputs.Tally
) -> list[str]:
    settings, notes = project.settings, []
    if tally.failed:
        why = ", ".join(f"{k} {v:,}" for k, v in sorted(tally.failed_reasons.items()))
        notes.append(
            f"{tally.failed:,} records got no answer after every retry ({why}); run the same "
            "command again to retry just those"
        )
    notes += outputs.invalid_warnings(tally.reasons, tally.usage_ignored)
    generation = settings.task == "generation"
    figure = "ROUGE-L" if generation else "accuracy"
    if "all" not in accuracy:
        notes.append(
            "no record has a reference text (--label), so the teacher's ROUGE-L is unknown; "
            "write reference outputs for a sample to check that the teacher is good enough "
            "before distilling it"
            if generation
            else "no record has a human label, so the teacher's accuracy is unknown; label a "
            "sample to check that the teacher is good enough before distilling it"
        )
    floor = settings.floor.min_metric
    # Held-out rows first: a teacher fine-tuned on the train split scores well there anyway.
    split = next((s for s in ("test", "validation", "all") if s in accuracy), "all")
    if floor is not None and accuracy.get(split, 1.0) < floor:
        notes.append(
            f"the teacher's {figure} on the {split} records ({accuracy[split]:.3f}) is below "
            f"the project's metric floor ({floor:g}): a student distilled from it cannot pass"
        )
    return notes


def _report(project: Project, reporter: Reporter, result: TeachResult, run_id: str) -> None:
    name = f"teacher_{result.metric}"
    for split, value in result.accuracy.items():
        reporter.metric(f"{name}/{split}", value)
    reporter.metric("teacher_cost", result.cost)
    add_metrics(project.store, run_id, [
        *((split, name, value) for split, value in result.accuracy.items()),
        ("", "teacher_cost", result.cost),
        ("", "teacher_records_per_s", result.records_per_s),
    ])  # fmt: skip
    project.audit("teach.finish", {
        "run": run_id, "teacher_id": result.teacher_id, "prompt_version": result.prompt_version,
        "labelled": result.labelled, "invalid": result.invalid, "failed": result.failed,
        "invalid_reasons": result.invalid_reasons, "usage_ignored": result.usage_ignored,
        "cost": result.cost, "cost_total": result.cost_total, "accuracy": result.accuracy,
    })  # fmt: skip
    reporter.progress(1.0, f"labelled {result.labelled:,} records, cost {result.cost:.4f}")


def task_and_labels(project: Project) -> tuple[str, tuple[str, ...]]:
    settings = project.settings
    if settings.task == "classification" and len(settings.labels) < 2:
        raise UserError(
            "the project has no label set yet",
            "import data with a label column (--label COL) or create the project with "
            "--labels a,b,c",
        )
    return settings.task, settings.labels


def check_inputs(
    project: Project, config: TeachConfig, source: TeacherSource, labels: tuple[str, ...]
) -> None:
    """Refuse combinations that cannot work, before any model is loaded.

    Raises:
        TeacherError: the source cannot serve this task, or --prompt would be ignored.
        UserError: nothing to label (no anonymized records, or no human labels).
    """
    task = project.settings.task
    if config.prompt_file is not None and not source.needs_prompt:
        raise TeacherError(
            f"--prompt applies only to LLM teachers, not to {source.description}",
            f"drop --prompt, or use {_able(lambda s: s.needs_prompt)}",
        )
    if task not in source.tasks:
        raise TeacherError(f"{source.description} cannot teach a {task} project",
                           f"use {_able(lambda s: task in s.tasks)}")  # fmt: skip
    if (
        teacher_outputs.count_eligible(project.store, need_text=source.needs_text, labels=labels)
        == 0
    ):
        if source.needs_text:
            raise UserError(
                "no anonymized records: the teacher only ever sees anonymized text",
                f"run `stillroom anonymize {project.path}` first",
            )
        if task == "generation":
            raise UserError(
                "no record has a reference text to use as the teacher's answer",
                "import data with --label COL (the reference output), or use a model teacher",
            )
        raise UserError(
            "no record has a human label from the project's label set",
            "import data with --label COL, or use a model teacher",
        )
    if source.needs_text:
        _check_anonymization_complete(project)


def _able(can: Callable[[TeacherSource], bool]) -> str:
    """The sources that can, for a hint: ``a local causal LM (hf:PATH) or ...``."""
    shown = [f"{s.description} ({spec_form(s.spec).usage})" for s in SOURCES if can(s)]
    return " or ".join(shown)


def _check_anonymization_complete(project: Project) -> None:
    """Refuse a half-finished anonymization: the teacher would see two versions of the data.

    An interrupted re-run with new settings leaves some records under the old settings and
    some not anonymized at all; labelling that mix would silently train on both.
    """
    missing, settings = anonymized.anonymization_gaps(project.store)
    if missing or settings > 1:
        detail = (
            f"{missing:,} records are not anonymized"
            if missing
            else (f"records were anonymized under {settings} different settings")
        )
        raise TeacherError(
            f"the anonymization is incomplete: {detail}",
            f"finish it with `stillroom anonymize {project.path}` (it resumes), then teach",
        )
