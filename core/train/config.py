"""What the train stage is asked to do, and what it reports back (DESIGN §4, §6)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from core.errors import TrainError

Precision = Literal["auto", "fp32", "fp16", "bf16"]
HardLabels = Literal["human", "teacher"]
# Class-aware training: ``auto`` turns it on when the label distribution is skewed.
Balance = Literal["auto", "off", "sampler", "weights"]
# Where a derived student's weights come from: ``auto`` takes the teacher when it is a local
# model of the same family as --derive PATH (DistilBERT-style), else PATH.
DeriveFrom = Literal["auto", "teacher", "path"]

# From the alpha x T sweep of bench/train_bench.py --sweep (a 3-layer MiniLM derived from a
# MiniLM-L6 teacher, Rotten Tomatoes, 2,000 train inputs, two data orders): the best mean
# validation accuracy, though the whole grid (alpha 0.5-1, T 1-4) lies within noise.
DEFAULT_ALPHA = 0.5
DEFAULT_TEMPERATURE = 1.0
# Generation: half SFT on the teacher's text, half token-level KL (when the tokenizers match).
DEFAULT_GENERATION_ALPHA = 0.5
DEFAULT_MAX_LENGTH = {"classification": 128, "generation": 512}
DEFAULT_LR = 5e-5
DEFAULT_LORA_LR = 2e-4  # adapters start at zero and move a small share of the weights
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")

# Options that may change when an interrupted run is resumed: they alter memory use or
# speed, not what is learnt (half the batch with twice the accumulation is the same step).
RESUME_OVERRIDES = frozenset(
    {"batch_size", "grad_accum", "device", "precision", "gradient_checkpointing",
     "auto_retry_oom"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """The train stage's settings (``stillroom train``).

    Attributes:
        student: a local model folder (or ``.gguf`` file) to train, or None with ``derive``.
        derive: a larger local model to build the student from by keeping ``layers`` layers.
        layers: how many evenly spaced layers the derived student keeps (None: two thirds
            of a decoder's, half of an encoder's).
        teacher_id: whose outputs to learn from (default: the most recent teacher).
        prompt_version: which prompt version of that teacher (default: its most recent).
        lora: train LoRA adapters (merged into the saved student) instead of every weight.
        lora_rank: LoRA rank r.
        lora_alpha: LoRA scaling alpha.
        lora_targets: module names to adapt (default: the preset for the architecture).
        epochs: passes over the training inputs (default: by the data's size,
            :func:`core.train.recipe.epochs_for`).
        alpha: weight of the distillation term (classification: KL at temperature T;
            generation: token-level KL); 1 - alpha weighs the hard-label / SFT term.
        temperature: the distillation temperature T (classification).
        hard_labels: ``human`` (CE on the human label where a record has one) or
            ``teacher`` (CE on the teacher's label).
        lr: peak learning rate (default :data:`DEFAULT_LR`, :data:`DEFAULT_LORA_LR` with LoRA).
        batch_size: inputs per device per forward pass.
        grad_accum: forward passes per optimizer step.
        max_length: longest input in tokens (longer ones are truncated, with a warning).
        warmup_ratio: share of steps with a rising learning rate.
        weight_decay: AdamW weight decay.
        checkpoint_every: optimizer steps between checkpoints (also saved on cancel).
        eval_every: steps between validation passes (default: ``checkpoint_every``).
        early_stopping: stop after this many validations without improvement (0: never).
        seed: seeds model initialisation, dropout and data order; recorded in the lineage.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``auto`` (bf16 on a GPU that has it, else fp32), ``fp32``, ``fp16``,
            ``bf16``.
        gradient_checkpointing: trade compute for activation memory.
        allow_raw_text: train on records that were not anonymized (audited).
        auto_retry_oom: on out of memory, retry once from the last checkpoint with half
            the batch size and twice the accumulation.
        group_by_length: batch inputs of similar length together (less padding).
        balance: class-aware training: ``sampler`` (each epoch draws rare classes more
            often), ``weights`` (rare classes weigh more in the loss), ``off``, or ``auto``
            (the sampler when the labels are skewed, see :mod:`core.train.recipe`).
        derive_from: with ``derive``: ``teacher`` (the teacher's own fine-tuned weights,
            when it is a local model of the same family), ``path`` (``derive`` itself) or
            ``auto`` (the teacher where it can be, else ``derive``).
        auto: search for the smallest student that passes the floor on validation
            (:mod:`core.train.auto`) instead of training one.
        budget_s: the search's time budget in seconds (``auto``).
        parent_run: the auto run this run is a trial of (set by the search).
        augment_rare: perturbed copies of each rare-class training row for the teacher to
            label (:mod:`core.train.augment`; classification with a local classifier
            teacher); 0: off.
        keep_best: keep the checkpoint the validation split scores best (True), or the
            final weights (False: a re-distillation, whose validation split holds none of
            the production traffic the new student is trained for; there, the in-domain
            "best" was the checkpoint that had learnt the least of that traffic).
    """

    student: str | None = None
    derive: str | None = None
    layers: int | None = None
    teacher_id: str | None = None
    prompt_version: str | None = None
    lora: bool = False
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_targets: tuple[str, ...] | None = None
    epochs: float | None = None
    alpha: float | None = None
    temperature: float = DEFAULT_TEMPERATURE
    hard_labels: HardLabels = "human"
    lr: float | None = None
    batch_size: int = 16
    grad_accum: int = 1
    max_length: int | None = None
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    checkpoint_every: int = 100
    eval_every: int | None = None
    early_stopping: int = 3
    seed: int = 42
    device: str = "auto"
    precision: Precision = "auto"
    gradient_checkpointing: bool = False
    allow_raw_text: bool = False
    auto_retry_oom: bool = False
    group_by_length: bool = True
    balance: Balance = "auto"
    derive_from: DeriveFrom = "auto"
    auto: bool = False
    budget_s: float = 1800.0
    parent_run: str | None = None
    augment_rare: int = 0
    keep_best: bool = True

    def alpha_for(self, task: str) -> float:
        if self.alpha is not None:
            return self.alpha
        return DEFAULT_ALPHA if task == "classification" else DEFAULT_GENERATION_ALPHA

    def max_length_for(self, task: str) -> int:
        return self.max_length or DEFAULT_MAX_LENGTH[task]

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return DEFAULT_LORA_LR if self.lora else DEFAULT_LR

    @property
    def eval_steps(self) -> int:
        return self.eval_every or self.checkpoint_every

    def validate(self) -> None:
        """Check the options before anything is loaded.

        Raises:
            TrainError: a value is out of range or two options contradict each other.
        """
        if (self.student is None) == (self.derive is None):
            raise TrainError(
                "name exactly one student", "pass --student PATH, or --derive PATH --layers K"
            )
        if self.auto and self.derive is None:
            raise TrainError(
                "--auto searches over the layers of --derive PATH",
                "pass --derive PATH (the teacher's base model) with --auto",
            )
        if self.derive is not None and self.layers is not None and self.layers < 1:
            raise TrainError("--layers must be at least 1", "for example --layers 3")
        if self.derive is None and self.layers is not None:
            raise TrainError("--layers applies only with --derive", "drop --layers")
        if not self.keep_best and self.early_stopping > 0:
            raise TrainError(
                "early stopping keeps the best checkpoint: it cannot be combined "
                "with keeping the final weights",
                "set early stopping to 0",
            )
        for ok, message in _checks(self):
            if not ok:
                raise TrainError(message)
        if self.checkpoint_every % self.eval_steps:
            raise TrainError(
                f"--checkpoint-every ({self.checkpoint_every}) must be a multiple of "
                f"--eval-every ({self.eval_steps})",
                "the best model is kept from a checkpoint, so each one needs a validation",
            )


def _checks(config: TrainConfig) -> list[tuple[bool, str]]:
    return [
        (config.epochs is None or config.epochs > 0, "--epochs must be positive"),
        (config.balance in get_args(Balance), "--balance must be auto, off, sampler or weights"),
        (config.derive_from in get_args(DeriveFrom), "--derive-from must be auto, teacher or path"),
        (config.budget_s > 0, "--budget must be positive"),
        (0 <= config.augment_rare <= 20, "--augment-rare must be between 0 and 20"),
        (config.alpha is None or 0.0 <= config.alpha <= 1.0, "--alpha must be in [0, 1]"),
        (config.temperature > 0, "--temperature must be positive"),
        (config.hard_labels in get_args(HardLabels), "--hard-labels must be human or teacher"),
        (config.lr is None or config.lr > 0, "--lr must be positive"),
        (config.batch_size >= 1 and config.grad_accum >= 1, "batch sizes must be positive"),
        (config.max_length is None or config.max_length >= 8, "--max-length must be >= 8"),
        (0.0 <= config.warmup_ratio < 1.0, "warmup ratio must be in [0, 1)"),
        (config.weight_decay >= 0, "weight decay cannot be negative"),
        (config.checkpoint_every >= 1, "--checkpoint-every must be at least 1"),
        (config.eval_every is None or config.eval_every >= 1, "--eval-every must be >= 1"),
        (config.early_stopping >= 0, "--early-stopping must be >= 0"),
        (config.lora_rank >= 1 and config.lora_alpha >= 1, "LoRA rank and alpha must be >= 1"),
        (bool(_DEVICE.match(config.device)), "--device must be auto, cpu, cuda or cuda:N"),
        (config.precision in get_args(Precision), "bad --precision"),
    ]


# Accuracy points above chance that still count as "at chance": a student within them of
# always answering the commonest label has learnt nothing the evaluation could trust.
NEAR_CHANCE = 0.05


@dataclass(frozen=True, slots=True)
class TrialFigures:
    """One trial of ``--auto`` as its frontier shows it: validation figures, CPU latency.

    ``retention`` is the student's validation macro-F1 over the teacher's, with its 95%
    bootstrap interval (None on too few rows); ``passed``: the interval's low end (the
    point figure where there is no interval) clears the floor.
    """

    run_id: str
    layers: int
    lr: float
    alpha: float
    temperature: float
    retention: float | None
    retention_low: float | None
    retention_high: float | None
    worst_class_retention: float | None
    macro_f1: float | None
    latency_ms: float | None
    parameters: int
    seconds: float
    passed: bool
    cut_by_budget: bool = False


@dataclass(frozen=True, slots=True)
class SearchSummary:
    """What ``--auto`` tried and chose.

    Attributes:
        trials: every trial, in the order run (resumed ones included).
        chosen_run: the trial whose student this result is (None: no trial finished).
        passed: whether the chosen student's validation interval clears the floor.
        stopped: ``passed``, ``budget`` (time ran out) or ``exhausted`` (nothing left).
        lever: when nothing passed, what the figures point to (more data, a larger
            student, or the quantized teacher), in one sentence.
        frontier_path: the quality-vs-latency plot (SVG) of the trials.
        budget_s: the time budget.
        floor: the retention floor the trials were judged against.
        validation_rows: validation rows the figures are on.
    """

    trials: tuple[TrialFigures, ...]
    chosen_run: str | None
    passed: bool
    stopped: str
    lever: str | None
    frontier_path: Path | None
    budget_s: float
    floor: float
    validation_rows: int


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a train run produced; paths and numbers only, never record contents.

    ``model_dir`` is the merged student (a plain Hugging Face folder with lineage.json);
    ``curves_path`` holds the training curves as JSON lines. ``balance``,
    ``class_counts`` and ``epoch_counts`` say what class-aware training did (rows per class
    in the data, and drawn per epoch); ``derived_from`` is the model a derived student was
    cut from; ``augmented`` counts the teacher-labelled copies of rare-class rows trained on
    besides the ``train_examples`` records; ``validation`` holds the best checkpoint's
    validation figures (accuracy, macro_f1, retention, worst_class_retention, worst_class:
    a label index); ``initial_validation`` the same figures of the untrained student, at
    step 0.
    """

    run_id: str
    model_dir: Path
    lineage_path: Path
    curves_path: Path
    task: str
    teacher_id: str
    prompt_version: str
    resumed: bool
    resumed_from_step: int
    global_step: int
    epochs_run: float
    best_val_metric: float | None
    val_metric_name: str
    stopped_early: bool
    train_examples: int
    validation_examples: int
    samples_per_s: float
    peak_memory_mb: float
    device: str
    batch_size: int
    grad_accum: int
    oom_retries: int
    seconds: float
    truncated_share: float
    token_kl: bool | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    balance: str = "off"
    class_counts: tuple[int, ...] = ()
    epoch_counts: tuple[int, ...] = ()
    derived_from: Path | None = None
    validation: dict[str, float] = field(default_factory=dict)
    chance_accuracy: float | None = None  # always answering the commonest validation label
    initial_validation: dict[str, float] = field(default_factory=dict)
    parent_run: str | None = None
    augmented: int = 0  # teacher-labelled copies of rare-class rows trained on (not records)
    trial: TrialFigures | None = None
    search: SearchSummary | None = None

    @property
    def near_chance(self) -> bool:
        """Whether the best validation accuracy is no better than chance: at most
        :data:`NEAR_CHANCE` above what always answering the commonest label scores."""
        accuracy = self.validation.get("accuracy")
        if accuracy is None and self.val_metric_name == "accuracy":  # before macro-F1 picked
            accuracy = self.best_val_metric
        if self.chance_accuracy is None or accuracy is None:
            return False
        return accuracy <= self.chance_accuracy + NEAR_CHANCE

    @property
    def no_better_than_start(self) -> bool:
        """Whether the best checkpoint scores no better on validation than the untrained
        student did at step 0 (by the figure the best checkpoint was picked on)."""
        name = self.val_metric_name
        start, best = self.initial_validation.get(name), self.validation.get(name)
        if start is None or best is None:
            return False
        return best >= start if name == "loss" else best <= start

    @property
    def needs_attention(self) -> str | None:
        """Why this student should not be trusted as it is, in plain words; None if fine."""
        if self.near_chance:
            accuracy = self.validation.get("accuracy", self.best_val_metric)
            return (
                f"training ended at chance level: the best validation accuracy "
                f"{accuracy:.2f} is no better than always answering the "
                f"commonest label ({self.chance_accuracy:.2f}); more data or another "
                "student is needed"
            )
        if self.no_better_than_start:
            name = self.val_metric_name.replace("_", "-")
            start = self.initial_validation[self.val_metric_name]
            best = self.validation[self.val_metric_name]
            return (
                f"the student is no better than its untrained start: validation {name} "
                f"{best:.4f} at its best checkpoint vs {start:.4f} at step 0; train longer "
                "(more epochs or data), keep more layers, or use a full fine-tune"
            )
        return None


def resolve_path(spec: str) -> Path:
    """A user-given model path, expanded and made absolute (stored so in the run config)."""
    return Path(spec).expanduser().resolve()
