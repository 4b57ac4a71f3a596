"""The ``transformers.Trainer`` wiring: the distillation loss, a seeded sampler, callbacks.

``DistillTrainer`` only replaces the loss and the sampler; checkpoints (model, optimizer,
scheduler, RNG states), resume, mixed precision, gradient accumulation, early stopping and
multi-GPU (under ``accelerate launch`` / ``torchrun``) are the Trainer's own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

from core.errors import TrainDivergedError
from core.reporter import Reporter
from core.train.features import SeededLengthSampler
from core.train.lineage import restrict_tree
from core.train.losses import classification_kd_loss, generation_loss


@dataclass(frozen=True, slots=True)
class LossSettings:
    task: str
    alpha: float
    temperature: float


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    """The training order: lengths for grouping, and the class plan of class-aware sampling."""

    lengths: list[int]
    group_by_length: bool
    classes: list[int] | None = None
    plan: tuple[int, ...] | None = None


class DistillTrainer(Trainer):
    """A Trainer whose loss is the distillation loss and whose data order is seeded per epoch."""

    def __init__(
        self, *args: Any, loss: LossSettings, sampler: SamplerSettings, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._loss, self._sampler = loss, sampler
        # The loss is a per-batch mean; make the Trainer divide it by the accumulation steps
        # for every architecture (it skips that for models whose forward takes **kwargs).
        self.model_accepts_loss_kwargs = False
        self.nonfinite_loss = False  # read by FiniteLossCallback at the end of the step

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:  # fmt: skip
        inputs = dict(inputs)  # the Trainer reads the labels from it afterwards
        labels = inputs.pop("labels")
        teacher_probs = inputs.pop("teacher_probs", None)
        topk_ids, topk_logprobs = inputs.pop("topk_ids", None), inputs.pop("topk_logprobs", None)
        row_weights = inputs.pop("row_weights", None)
        outputs = model(**inputs)
        settings = self._loss
        if settings.task == "classification":
            loss = classification_kd_loss(
                outputs.logits, teacher_probs, labels, alpha=settings.alpha,
                temperature=settings.temperature, row_weights=row_weights,
            )  # fmt: skip
        else:
            loss = generation_loss(outputs.logits, labels, alpha=settings.alpha,
                                   topk_ids=topk_ids, topk_logprobs=topk_logprobs)  # fmt: skip
        if model.training and not self.nonfinite_loss:
            # One sync per step, as the Trainer's own NaN filter for its logs already does;
            # that filter is what hid a NaN loss (it logged the last finite mean instead).
            self.nonfinite_loss = not bool(loss.detach().isfinite().all())
        return (loss, outputs) if return_outputs else loss

    def get_train_dataloader(self) -> Any:
        # On resume the Trainer takes the batch size stored in the checkpoint; after an
        # out-of-memory retry (half the batch, twice the accumulation) ours must win.
        self._train_batch_size = self.args.train_batch_size
        return super().get_train_dataloader()

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        order = self._sampler
        return SeededLengthSampler(order.lengths, batch, self.args.seed,
                                   group=order.group_by_length, classes=order.classes,
                                   plan=order.plan)  # fmt: skip


def distributed_any(flag: bool, device: Any) -> bool:
    """True if ``flag`` is set on any process (all must stop at the same step, or DDP hangs)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


class FiniteLossCallback(TrainerCallback):
    """Stops training at the end of the first step whose loss is NaN or infinite.

    Raising (rather than ``should_training_stop``) skips that step's checkpoint, the best
    model reload and the save: the weights are already poisoned. Under several processes
    every rank agrees first, so they raise at the same step instead of waiting on each other.
    """

    def __init__(self, trainer: DistillTrainer) -> None:
        self._trainer = trainer

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if distributed_any(self._trainer.nonfinite_loss, args.device):
            raise diverged_error(f"the training loss became NaN or infinite at step "
                                 f"{state.global_step:,} of {state.max_steps:,}", args)  # fmt: skip

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        value = (metrics or {}).get("eval_loss")
        if isinstance(value, int | float) and not math.isfinite(value):
            raise diverged_error(f"the validation loss became NaN or infinite at step "
                                 f"{state.global_step:,}", args)  # fmt: skip


def diverged_error(what: str, args: Any) -> TrainDivergedError:
    """The error for a diverged run: what happened, and what to change."""
    return TrainDivergedError(
        f"training diverged: {what}; no student was saved",
        f"lower the learning rate (it is {args.learning_rate:g}; --lr) and start a new run "
        "with --fresh, or check the teacher's outputs (their probabilities must be finite)",
    )


# What the reporter hears at each log and validation (the Train page plots them).
CURVE_METRICS = ("loss", "learning_rate", "eval_loss", "eval_accuracy", "eval_macro_f1",
                 "eval_retention", "eval_worst_class_retention", "eval_worst_class",
                 "samples_per_s", "epoch")  # fmt: skip
# Best checkpoint: macro-F1, the figure the floor's retention is of (accuracy favours the
# large classes, and on skewed data keeps a student that never predicts a rare one).
BEST_METRIC = {"classification": "eval_macro_f1", "generation": "eval_loss"}


class StageCallback(TrainerCallback):
    """Progress, cancel, curves and throughput: the bridge from the Trainer to the stage.

    Cancel: once the reporter asks, the step is checkpointed and training stops; the stage
    then raises ``StageCancelled``. Throughput counts training steps only (validation and
    checkpoint time excluded), samples = optimizer steps x effective batch.
    """

    def __init__(
        self, reporter: Reporter, curves: Path, samples_per_step: int, *, main: bool
    ) -> None:
        self._reporter, self._curves, self._per_step = reporter, curves, samples_per_step
        self._main = main
        self.cancelled = False
        self.train_seconds = 0.0
        self.steps_timed = 0
        self._step_started = 0.0

    @property
    def samples_per_s(self) -> float:
        seconds = self.train_seconds
        return self.steps_timed * self._per_step / seconds if seconds > 0 else 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._step_started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.train_seconds += time.perf_counter() - self._step_started
        self.steps_timed += 1
        if self._main:
            self._reporter.progress(
                min(state.global_step / max(state.max_steps, 1), 0.99),
                f"step {state.global_step:,}/{state.max_steps:,}",
            )
        if state.global_step >= state.max_steps:
            control.should_evaluate = True  # so the final weights compete for "best" too
        if distributed_any(self._reporter.cancel_requested(), args.device):
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._main:  # the Trainer's folders and files follow the umask; keep them private
            restrict_tree(self._curves.parent)  # the run folder: checkpoints, derived, curves

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        if not self._main or not logs:
            return
        row = {"step": state.global_step, "epoch": round(float(state.epoch or 0.0), 4)}
        row.update({k: float(v) for k, v in logs.items() if isinstance(v, int | float)})
        if "loss" in logs:
            row["samples_per_s"] = round(self.samples_per_s, 2)
        fd = os.open(self._curves, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        for name in CURVE_METRICS:
            if name in row:
                self._reporter.metric(f"train/{name}", row[name], state.global_step)


LOG_POINTS = 100


def training_arguments(
    output_dir: Path, *, config: Any, task: str, batch_size: int, grad_accum: int,
    train_size: int, device: str, precision: str, world_size: int = 1, epochs: float,
) -> TrainingArguments:  # fmt: skip
    """The Trainer's arguments for one attempt (the batch size may be halved after an OOM)."""
    steps = math.ceil(train_size / (batch_size * grad_accum * world_size)) * epochs
    # About LOG_POINTS training-loss points over the run (a curve, not five dots; a short
    # run still gets one every step), never fewer than one per half evaluation interval.
    log_every = max(1, min(config.eval_steps // 2 or 1, math.ceil(steps / LOG_POINTS)))
    classification = task == "classification"
    values = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size * 2,
        gradient_accumulation_steps=grad_accum,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=int(config.warmup_ratio * steps),
        num_train_epochs=epochs,
        lr_scheduler_type="linear",
        logging_strategy="steps",
        logging_steps=log_every,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.checkpoint_every,
        save_total_limit=2,
        load_best_model_at_end=config.keep_best,
        metric_for_best_model=BEST_METRIC[task],
        greater_is_better=classification,
        prediction_loss_only=not classification,
        seed=config.seed,
        data_seed=config.seed,
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        label_names=["labels"],
        use_cpu=device == "cpu",
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        gradient_checkpointing=config.gradient_checkpointing,
        dataloader_num_workers=0,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        save_safetensors=True,
    )
    # Newer transformers drop arguments (save_safetensors is always on there); pass only
    # those this version knows.
    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    return TrainingArguments(**{k: v for k, v in values.items() if k in known})


def build_trainer(
    model: Any, args: TrainingArguments, *, loss: LossSettings, train: Any, validation: Any,
    collator: Callable[[list[dict[str, Any]]], dict[str, Any]], tokenizer: Any,
    sampler: SamplerSettings, callbacks: Sequence[TrainerCallback], early_stopping: int,
    compute_metrics: Callable[[Any], dict[str, float]] | None,
    model_init: Callable[[Any], Any] | None = None,
    trainer_class: type[DistillTrainer] | None = None,
) -> DistillTrainer:  # fmt: skip
    """A :class:`DistillTrainer` with early stopping and the given callbacks."""
    from transformers import EarlyStoppingCallback

    extra = list(callbacks)
    if early_stopping > 0:
        extra.append(EarlyStoppingCallback(early_stopping_patience=early_stopping))
    # Checkpoint rotation warns about mtime on every save; it then orders by step, as wanted.
    warnings.filterwarnings("ignore", message="mtime may not be reliable")
    trainer = (trainer_class or DistillTrainer)(
        model=model,
        model_init=model_init,
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=extra,
        loss=loss,
        sampler=sampler,
    )
    # The stage reports through its own callback; the printer would write dicts to stdout,
    # which is the worker's JSON-lines channel.
    trainer.remove_callback(PrinterCallback)  # type: ignore[no-untyped-call]
    trainer.add_callback(FiniteLossCallback(trainer))  # type: ignore[no-untyped-call]
    return trainer
