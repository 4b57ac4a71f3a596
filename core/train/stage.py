"""The train stage (DESIGN §4): teacher outputs in, a distilled student folder out.

``run_train`` reads the train/validation examples of one teacher, builds or loads the
student, trains it with the Trainer (checkpointing every N steps and on cancel), and saves
the merged student with its lineage in ``<run_dir>/student``. Re-running a stopped run
resumes from its last complete checkpoint exactly: weights, optimizer, scheduler, RNG and
data order. It runs under the one run lifecycle (:mod:`core.jobs.execute`), which finds
the stopped run to resume.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.configs import to_json
from core.data.textio import file_sha256
from core.errors import TrainError
from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.store.metrics import add_metrics
from core.train import checkpoints
from core.train.config import RESUME_OVERRIDES, TrainConfig, TrainResult
from core.train.device import world_size
from core.train.losses import IGNORE_INDEX
from core.train.prepare import Prepared, prepare
from core.train.session import Attempt, train_with_retry

if TYPE_CHECKING:
    from core.jobs.registry import RunContext


def run_train(
    project: Project,
    config: TrainConfig,
    *,
    run: RunContext,
    reporter: Reporter,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Distil a student from the project's teacher outputs, resuming the run's checkpoint.

    ``callbacks`` are extra ``TrainerCallback`` s (tests use them to inject failures).

    Raises:
        TrainError: the options, student or data cannot be used (one actionable line).
        StudentModelError: the student cannot be loaded, derived or used for the task.
        TrainOutOfMemoryError: memory ran out (after the optional retry at half batch).
        StageCancelled: the reporter asked to stop; a checkpoint was saved first.
    """
    if config.auto:
        from core.train.auto import run_auto

        return run_auto(project, config, run=run, reporter=reporter)
    started, run_id, run_dir = time.perf_counter(), run.id, run.dir
    main = int(os.environ.get("RANK", "0")) == 0  # rank 0 of a launch writes store and files
    if main and world_size() == 1:  # other processes of a launch may be deriving right now
        checkpoints.remove_scratch(run_dir)
    prepared = prepare(project, config, run_dir, main=main)
    checkpoint = checkpoints.latest_checkpoint(run_dir, remove_incomplete=main)
    start_step = checkpoints.checkpoint_step(checkpoint)
    if main:
        checkpoints.trim_curves(run_dir, start_step)
        _audit_start(project, config, run_id, prepared, start_step)
        for note in prepared.notes:
            reporter.progress(0.0, note)
    attempt = train_with_retry(project, config, run_id, prepared, checkpoint, reporter,
                               callbacks, main=main)  # fmt: skip
    if attempt.cancelled:
        if main:
            project.audit("train.cancel", {"run": run_id, "step": attempt.global_step})
        raise StageCancelled(f"cancelled at step {attempt.global_step}")
    result = _result(project, config, run_id, prepared, attempt, start_step, started)
    if main:
        _record(project, run_id, result, reporter)
    return result


def _audit_start(
    project: Project, config: TrainConfig, run_id: str, prepared: Prepared, start_step: int
) -> None:
    data = prepared.data
    project.audit("train.start", {
        "run": run_id, "student": str(prepared.student), "teacher_id": data.teacher_id,
        "prompt_version": data.prompt_version,
        "train_examples": len(data.train) - data.augmented, "augmented": data.augmented,
        "validation_examples": len(data.validation), "skipped": data.skipped,
        "resumed_from_step": start_step, "device": prepared.device.name,
        "config": to_json(config, project.path),
    })  # fmt: skip
    if data.raw_text_used:
        project.audit("train.raw_text", {"run": run_id, "records": data.raw_text_used})


def _result(
    project: Project,
    config: TrainConfig,
    run_id: str,
    prepared: Prepared,
    attempt: Attempt,
    start_step: int,
    started: float,
) -> TrainResult:
    run_dir = project.run_dir(run_id)
    data = prepared.data
    return TrainResult(
        run_id=run_id,
        model_dir=attempt.model_dir or run_dir / "student",
        lineage_path=(attempt.model_dir or run_dir / "student") / "lineage.json",
        curves_path=run_dir / checkpoints.CURVES,
        task=prepared.task,
        teacher_id=data.teacher_id,
        prompt_version=data.prompt_version,
        resumed=start_step > 0,
        resumed_from_step=start_step,
        global_step=attempt.global_step,
        epochs_run=round(attempt.epochs_run, 4),
        best_val_metric=attempt.best_metric,
        val_metric_name="macro_f1" if prepared.task == "classification" else "loss",
        stopped_early=attempt.stopped_early,
        train_examples=len(data.train) - data.augmented,
        validation_examples=len(data.validation),
        samples_per_s=round(attempt.samples_per_s, 2),
        peak_memory_mb=round(attempt.peak_memory_mb, 1),
        device=prepared.device.name,
        batch_size=attempt.batch_size,
        grad_accum=attempt.grad_accum,
        oom_retries=attempt.oom_retries,
        seconds=round(time.perf_counter() - started, 2),
        truncated_share=round(prepared.truncated_share, 4),
        token_kl=prepared.token_kl,
        skipped=dict(data.skipped),
        notes=tuple(prepared.notes) + tuple(attempt.notes) + _kept(config),
        balance=prepared.recipe.balance,
        class_counts=prepared.recipe.class_counts,
        epoch_counts=prepared.recipe.epoch_counts,
        derived_from=None if prepared.derived is None else prepared.source,
        validation=dict(attempt.validation),
        initial_validation=dict(attempt.initial),
        chance_accuracy=_chance(prepared) if prepared.task == "classification" else None,
        augmented=data.augmented,
    )


def _kept(config: TrainConfig) -> tuple[str, ...]:
    if config.keep_best:
        return ()
    return ("the final weights were kept, not the checkpoint the validation split scores best "
            "(a re-distillation: that split holds none of the production traffic); the "
            "validation figure is the final weights'",)  # fmt: skip


def _chance(prepared: Prepared) -> float | None:
    """The validation accuracy of always answering the commonest label."""
    labels = [e.eval_label for e in prepared.data.validation if e.eval_label != IGNORE_INDEX]
    if not labels:
        return None
    return max(labels.count(label) for label in set(labels)) / len(labels)


def _record(project: Project, run_id: str, result: TrainResult, reporter: Reporter) -> None:
    rows: list[tuple[str, str, float]] = [
        ("", "train_samples_per_s", result.samples_per_s),
        ("", "peak_memory_mb", result.peak_memory_mb),
        ("", "global_step", float(result.global_step)),
    ]
    if result.best_val_metric is not None:
        rows.append(("validation", result.val_metric_name, result.best_val_metric))
    rows += [("validation", name, value) for name, value in result.validation.items()
             if name not in (result.val_metric_name, "loss", "worst_class")]  # fmt: skip
    with project.store.transaction():
        add_metrics(project.store, run_id, rows)
        project.audit("train.finish", {
            "run": run_id, "student": to_json(result.model_dir, project.path),
            "global_step": result.global_step,
            "best_val_metric": result.best_val_metric, "stopped_early": result.stopped_early,
            "lineage_sha256":
                file_sha256(result.lineage_path) if result.lineage_path.is_file() else None,
        })  # fmt: skip
    if result.best_val_metric is not None:
        reporter.metric(f"train/best_val_{result.val_metric_name}", result.best_val_metric)
    reporter.progress(1.0, f"trained {result.global_step:,} steps; student in {result.model_dir}")


def with_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """``config`` with resume-safe options replaced.

    Raises:
        TrainError: an option that changes what is learnt was given.
    """
    unsafe = sorted(set(overrides) - RESUME_OVERRIDES)
    if unsafe:
        raise TrainError(
            f"{', '.join(unsafe)} cannot change when a run is resumed",
            "start a new run with --fresh to train with other settings",
        )
    updated = dataclasses.replace(config, **overrides)
    updated.validate()
    return updated
