"""One training session: load the student, run the Trainer (resuming from a checkpoint),
handle out of memory, and save the merged student with its lineage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.configs import config_to_json
from core.jobs.memory import halved_batch, is_out_of_memory
from core.project import Project
from core.reporter import Reporter
from core.train import checkpoints
from core.train.config import TrainConfig
from core.train.device import out_of_memory_error, peak_memory_mb, release_memory, reset_peak_memory
from core.train.lineage import build_lineage, dataset_hashes, examples_sha256, save_student
from core.train.prepare import Prepared


@dataclass
class Attempt:
    cancelled: bool
    global_step: int
    epochs_run: float
    best_metric: float | None
    stopped_early: bool
    samples_per_s: float
    peak_memory_mb: float
    batch_size: int
    grad_accum: int
    oom_retries: int = 0
    model_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    validation: dict[str, float] = field(default_factory=dict)  # at the best checkpoint
    initial: dict[str, float] = field(default_factory=dict)  # at step 0, untrained


def train_with_retry(
    project: Project, config: TrainConfig, run_id: str, prepared: Prepared,
    checkpoint: Path | None, reporter: Reporter, callbacks: Sequence[Any], *, main: bool,
) -> Attempt:  # fmt: skip
    """Train; on out of memory retry once at half the batch (if allowed), else explain.

    Raises:
        TrainOutOfMemoryError: memory ran out and no retry is left (or allowed).
    """
    run_dir = project.run_dir(run_id)
    batch, accum, retries = config.batch_size, config.grad_accum, 0
    notes: list[str] = []
    while True:
        try:
            attempt = _attempt(project, config, run_id, prepared, checkpoint, reporter,
                               callbacks, batch, accum, main=main)  # fmt: skip
        except (MemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            release_memory(prepared.device.kind)
            error = out_of_memory_error(
                kind=prepared.device.kind, project=str(project.path), run_id=run_id,
                batch_size=batch, grad_accum=accum, max_length=prepared.max_length,
                lora=config.lora, precision=prepared.device.precision, retried=bool(retries),
            )  # fmt: skip
            if main:
                project.audit("train.out_of_memory", {"run": run_id, "batch_size": batch,
                                                      "grad_accum": accum})  # fmt: skip
            if not config.auto_retry_oom or retries or batch == 1:
                raise error from exc
            failed_batch = batch
            retries, (batch, accum) = retries + 1, halved_batch(batch, accum)
            checkpoint = checkpoints.latest_checkpoint(run_dir, remove_incomplete=main)
            notes.append(
                f"ran out of memory at batch size {failed_batch}; retried from step "
                f"{checkpoints.checkpoint_step(checkpoint)} at batch size {batch} with "
                f"{accum} accumulation steps (the same effective batch)"
            )
            reporter.progress(0.0, notes[-1])
            if main:
                store_config(project, run_id, _replace(config, batch, accum), "out of memory")
            continue
        attempt.oom_retries, attempt.notes = retries, notes
        return attempt


def _replace(config: TrainConfig, batch: int, accum: int) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(config, batch_size=batch, grad_accum=accum)


def store_config(project: Project, run_id: str, config: TrainConfig, reason: str) -> None:
    """Replace the run's stored config (an OOM retry); audited."""
    from core.jobs.registry import TRAIN
    from core.jobs.runs import replace_config

    replace_config(project, TRAIN, run_id, config, reason)


def _attempt(
    project: Project, config: TrainConfig, run_id: str, prepared: Prepared,
    checkpoint: Path | None, reporter: Reporter, callbacks: Sequence[Any], batch: int,
    accum: int, *, main: bool,
) -> Attempt:  # fmt: skip
    from transformers import set_seed

    from core.train.students import load_student, wrap_lora
    from core.train.trainer import StageCallback, training_arguments

    run_dir, device = project.run_dir(run_id), prepared.device
    set_seed(config.seed)  # the new head and LoRA weights start the same on every attempt
    model = load_student(prepared.student, prepared.task, prepared.labels, prepared.tokenizer)
    if config.lora:
        model = wrap_lora(model, prepared.task, config.lora_rank, config.lora_alpha,
                          config.lora_targets)  # fmt: skip
    args = training_arguments(
        run_dir / checkpoints.CHECKPOINTS, config=config, task=prepared.task, batch_size=batch,
        grad_accum=accum, train_size=len(prepared.train.items), device=device.kind,
        precision=device.precision, world_size=device.world_size,
        epochs=prepared.recipe.epochs,
    )  # fmt: skip
    if device.world_size == 1 and args.n_gpu > 1:
        args._n_gpu = 1  # one GPU unless launched by torchrun: never nn.DataParallel
    stage = StageCallback(reporter, run_dir / checkpoints.CURVES,
                          batch * accum * device.world_size, main=main)  # fmt: skip
    trainer = distill_trainer(config, prepared, model, args, [stage, *callbacks])
    reset_peak_memory(device.kind)
    # The untrained start, scored once (and logged to the curves at step 0) so the result
    # can say when training did not beat it; a resumed run reads it back from the curves.
    initial = (checkpoints.eval_figures(trainer.evaluate()) if checkpoint is None
               else checkpoints.initial_figures(run_dir))  # fmt: skip
    trainer.train(resume_from_checkpoint=None if checkpoint is None else str(checkpoint))
    attempt = _outcome(trainer, stage, device.kind, batch, accum, config.keep_best)
    attempt.initial = initial
    if not attempt.cancelled and main:
        attempt.model_dir = _save(project, config, run_id, prepared, trainer, attempt)
    return attempt


def distill_trainer(
    config: TrainConfig, prepared: Prepared, model: Any, args: Any, callbacks: Sequence[Any],
    model_init: Any = None, trainer_class: Any = None,
) -> Any:  # fmt: skip
    """The Trainer for the prepared data: loss, class-aware order, validation figures."""
    from core.train.features import Collator
    from core.train.recipe import row_classes
    from core.train.trainer import LossSettings, SamplerSettings, build_trainer
    from core.train.validation import ValidationScorer

    task, recipe = prepared.task, prepared.recipe
    sampled = recipe.balance == "sampler"
    order = SamplerSettings(
        prepared.train.lengths, config.group_by_length,
        classes=row_classes(prepared.data.train) if sampled else None,
        plan=recipe.epoch_counts if sampled else None,
    )  # fmt: skip
    scorer = None
    if task == "classification":
        scorer = ValidationScorer(prepared.data.validation, len(prepared.labels))
    return build_trainer(
        model, args, loss=LossSettings(task, config.alpha_for(task), config.temperature),
        train=prepared.train.items, validation=prepared.validation.items,
        collator=Collator(int(prepared.tokenizer.pad_token_id), task),
        tokenizer=prepared.tokenizer, sampler=order, callbacks=callbacks,
        early_stopping=config.early_stopping, compute_metrics=scorer, model_init=model_init,
        trainer_class=trainer_class,
    )  # fmt: skip


def _outcome(trainer: Any, stage: Any, kind: str, batch: int, accum: int,
             keep_best: bool = True) -> Attempt:  # fmt: skip
    state = trainer.state
    metric = state.best_metric
    kept = kept_validation(state, keep_best)
    if not keep_best:  # the final weights are kept: their validation, not the best one's
        name = str(trainer.args.metric_for_best_model or "")
        key = name if name.startswith("eval_") else f"eval_{name}"
        found = None if kept is None else kept.get(key)
        metric = None if found is None else float(found)
    return Attempt(
        cancelled=stage.cancelled, global_step=state.global_step,
        epochs_run=float(state.epoch or 0.0), best_metric=metric,
        stopped_early=not stage.cancelled and state.global_step < state.max_steps,
        samples_per_s=stage.samples_per_s, peak_memory_mb=peak_memory_mb(kind),
        batch_size=batch, grad_accum=accum,
        validation={} if kept is None else checkpoints.eval_figures(kept),
    )  # fmt: skip


def kept_validation(state: Any, keep_best: bool) -> dict[str, Any] | None:
    """The logged validation of the weights the run keeps: the best checkpoint's (the
    Trainer's pick) or, with ``keep_best`` False, the last one; None before any."""
    rows: list[dict[str, Any]] = [r for r in state.log_history if "eval_loss" in r]
    if not rows:
        return None
    if not keep_best:
        return rows[-1]
    step = getattr(state, "best_global_step", None)
    chosen = next((r for r in rows if r.get("step") == step), None)
    if chosen is None and state.best_metric is not None:
        chosen = next((r for r in rows if state.best_metric in r.values()), rows[-1])
    return chosen or rows[-1]


def recipe_lineage(prepared: Prepared) -> dict[str, Any]:
    """What the data made of the automatic settings, for the lineage."""
    recipe = prepared.recipe
    return {"epochs": recipe.epochs, "balance": recipe.balance, "reason": recipe.reason,
            "class_counts": list(recipe.class_counts),
            "epoch_counts": list(recipe.epoch_counts),
            "class_weights": list(recipe.class_weights),
            "derived_from": str(prepared.source),
            "augmented": prepared.data.augmented}  # fmt: skip


def _save(
    project: Project, config: TrainConfig, run_id: str, prepared: Prepared, trainer: Any,
    attempt: Attempt,
) -> Path:  # fmt: skip
    model = trainer.model
    lora = None
    if config.lora:
        peft_config = model.peft_config["default"]
        lora = {"rank": peft_config.r, "alpha": peft_config.lora_alpha,
                "targets": sorted(peft_config.target_modules or [])}  # fmt: skip
        model = model.merge_and_unload()
    data = prepared.data
    derived = prepared.derived
    lineage = build_lineage(
        project, run_id,
        student={
            "base": str(prepared.student), "model_type": prepared.model_type,
            "source": config.student or config.derive,
            "derived_from": None if derived is None else {
                "source": str(derived.source), "source_layers": derived.source_layers,
                "kept_layers": list(derived.kept_layers)},
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        teacher={"teacher_id": data.teacher_id, "prompt_version": data.prompt_version,
                 "prompt_template": prepared.prompt_template},
        data={"datasets": dataset_hashes(project, [e.record_id for e in data.train]),
              "train_examples": len(data.train) - data.augmented,
              "augmented_copies": data.augmented, "validation_examples": len(data.validation),
              "held_out_from_train": data.held_out, "skipped": data.skipped,
              "raw_text_records": data.raw_text_used,
              "train_sha256": examples_sha256(data.train),
              "validation_sha256": examples_sha256(data.validation)},
        training={"config": config_to_json(config), "seed": config.seed, "lora": lora,
                  "device": prepared.device.name, "precision": prepared.device.precision,
                  "batch_size": attempt.batch_size, "grad_accum": attempt.grad_accum,
                  "global_step": attempt.global_step, "epochs_run": attempt.epochs_run,
                  "best_val_metric": attempt.best_metric, "token_kl": prepared.token_kl,
                  "stopped_early": attempt.stopped_early, "max_length": prepared.max_length,
                  "recipe": recipe_lineage(prepared), "validation": attempt.validation},
    )  # fmt: skip
    return save_student(model, prepared.tokenizer, project.run_dir(run_id), lineage)
