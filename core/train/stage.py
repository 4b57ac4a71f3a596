"""The train stage (DESIGN §4): teacher outputs in, a distilled student folder out.

``run_train`` reads the train/validation examples of one teacher, builds or loads the
student, trains it with the Trainer (checkpointing every N steps and on cancel), and saves
the merged student with its lineage in ``<run_dir>/student``. Re-running a stopped run
resumes from its last complete checkpoint exactly: weights, optimizer, scheduler, RNG and
data order. ``run_train_stage`` is the same as a job stage for the worker (DESIGN §5).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import TrainError, UserError
from core.jobs import runs
from core.jobs.locks import stage_lock
from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.train import checkpoints
from core.train.config import (
    RESUME_OVERRIDES,
    TrainConfig,
    TrainResult,
    config_from_dict,
    config_to_dict,
    result_to_dict,
)
from core.train.device import world_size
from core.train.prepare import Prepared, prepare
from core.train.session import Attempt, train_with_retry


def run_train(
    project: Project,
    config: TrainConfig,
    *,
    reporter: Reporter,
    run_id: str | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Distil a student from the project's teacher outputs.

    Without ``run_id`` the stage records its own ``runs`` row, resuming the latest stopped
    train run with the same settings if there is one (the job runner passes ``run_id``).
    ``callbacks`` are extra ``TrainerCallback`` s (tests use them to inject failures).

    Raises:
        TrainError: the options, student or data cannot be used (one actionable line).
        StudentModelError: the student cannot be loaded, derived or used for the task.
        TrainOutOfMemoryError: memory ran out (after the optional retry at half batch).
        TrainDivergedError: the loss or the weights became NaN or infinite; nothing was saved.
        StageBusyError: another process is training in this project (without ``run_id``).
        StageCancelled: the reporter asked to stop; a checkpoint was saved first.
    """
    config.validate()
    if run_id is not None:
        return _run(project, config, run_id, reporter, callbacks)
    with stage_lock(project, "train"):
        return _run_own(project, config, reporter, callbacks)


def _run_own(
    project: Project, config: TrainConfig, reporter: Reporter, callbacks: Sequence[Any]
) -> TrainResult:
    """:func:`run_train` under a ``runs`` row of its own (the caller holds the lock)."""
    runs.reconcile_runs(project)
    run_id = resumable_run(project, config) or runs.create_run(
        project, "train", config_to_dict(config)
    )
    runs.mark_running(project, run_id, os.getpid())
    try:
        result = _run(project, config, run_id, reporter, callbacks)
    except StageCancelled:
        runs.mark_finished(project, run_id, "cancelled", result={"resumable": True})
        raise
    except BaseException as exc:
        message = exc.one_line() if isinstance(exc, UserError) else None
        runs.mark_finished(project, run_id, "failed", error_class=type(exc).__name__,
                           error_message=message)  # fmt: skip
        raise
    runs.mark_finished(project, run_id, "succeeded", result=result_to_dict(result))
    return result


def resumable_run(project: Project, config: TrainConfig) -> str | None:
    """The newest stopped train run (interrupted, cancelled, failed) with the same settings.

    Settings that only change memory use or speed (batch size with accumulation, device,
    precision) may differ; anything that changes what is learnt starts a new run.
    """
    wanted = _comparable(config_to_dict(config))
    for run in reversed(runs.list_runs(project, "train")):
        if run.status in runs.RESUMABLE and _comparable(run.config) == wanted:
            return run.id
    return None


def _comparable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in RESUME_OVERRIDES}


def is_main_process() -> bool:
    """Rank 0 of a multi-process launch (or the only process) writes the store and files."""
    return int(os.environ.get("RANK", "0")) == 0


def _run(
    project: Project,
    config: TrainConfig,
    run_id: str,
    reporter: Reporter,
    callbacks: Sequence[Any],
) -> TrainResult:
    started = time.perf_counter()
    main = is_main_process()
    run_dir = project.run_dir(run_id)
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
        "prompt_version": data.prompt_version, "train_examples": len(data.train),
        "validation_examples": len(data.validation), "skipped": data.skipped,
        "resumed_from_step": start_step, "device": prepared.device.name,
        "config": config_to_dict(config),
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
        val_metric_name="accuracy" if prepared.task == "classification" else "loss",
        stopped_early=attempt.stopped_early,
        train_examples=len(data.train),
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
        notes=tuple(prepared.notes) + tuple(attempt.notes),
    )


def _record(project: Project, run_id: str, result: TrainResult, reporter: Reporter) -> None:
    rows: list[tuple[str, str, float]] = [
        ("", "train_samples_per_s", result.samples_per_s),
        ("", "peak_memory_mb", result.peak_memory_mb),
        ("", "global_step", float(result.global_step)),
    ]
    if result.best_val_metric is not None:
        rows.append(("validation", result.val_metric_name, result.best_val_metric))
    with project.store.transaction() as conn:
        conn.executemany(
            "INSERT INTO metrics (run_id, split, name, value) VALUES (?, ?, ?, ?)",
            [(run_id, split, name, value) for split, name, value in rows],
        )
        project.audit("train.finish", {
            "run": run_id, "student": str(result.model_dir), "global_step": result.global_step,
            "best_val_metric": result.best_val_metric, "stopped_early": result.stopped_early,
            "lineage_sha256": _sha256(result.lineage_path),
        })  # fmt: skip
    if result.best_val_metric is not None:
        reporter.metric(f"train/best_val_{result.val_metric_name}", result.best_val_metric)
    reporter.progress(1.0, f"trained {result.global_step:,} steps; student in {result.model_dir}")


def _sha256(path: Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


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


def run_train_stage(
    project: Project, run_id: str, config: dict[str, Any], reporter: Reporter
) -> dict[str, Any]:
    """:func:`run_train` as a job stage: the stored JSON config in, the result as plain data.

    Raises:
        TrainError: as :func:`run_train`.
    """
    result = run_train(project, config_from_dict(config), reporter=reporter, run_id=run_id)
    return result_to_dict(result)
