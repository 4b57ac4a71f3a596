"""The training recipe that depends on the data: epochs and learning rate for its size, and
class-aware training when its labels are skewed (measured by ``bench/recipe_bench.py``).

A row's class is its hard label where it has one, else the teacher's most probable label,
so records without a human label (taught only) count too. Class-aware training is either
a sampler that draws each epoch's rows with class shares proportional to ``n_c ** power``
(power 0: every class equally often; 1: as the data has them) or per-row loss weights
``(N / (C * n_c)) ** power`` that multiply both the distillation and the hard-label term.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.train.config import Balance, TrainConfig
from core.train.data import Example
from core.train.losses import IGNORE_INDEX

# Skewed: the largest class has at least this many times the rows of the smallest.
SKEW_RATIO = 4.0
# Tempered balancing (square root): rare classes are drawn far more often than the data
# has them, without every epoch repeating a 14-row class a hundred times over.
BALANCE_POWER = 0.5
# A small set needs more passes to see its rare classes often enough; early stopping on
# the validation macro-F1 keeps the best checkpoint whatever the epoch count.
TARGET_STEPS_SAMPLES = 15_000  # rows seen in all, at least
MIN_EPOCHS, MAX_EPOCHS = 3.0, 8.0


@dataclass(frozen=True, slots=True)
class Recipe:
    """What the data made of the config's automatic settings.

    Attributes:
        epochs: passes over the training rows.
        class_counts: training rows per class index (the hard label, else the teacher's).
        balance: ``off``, ``sampler`` or ``weights``: what class-aware training does.
        epoch_counts: rows drawn per class in each epoch (the sampler), else the counts.
        class_weights: the loss weight of each class (1.0 each unless ``weights``).
        reason: one sentence on why balancing is on or off.
    """

    epochs: float
    class_counts: tuple[int, ...]
    balance: str
    epoch_counts: tuple[int, ...]
    class_weights: tuple[float, ...]
    reason: str


def row_classes(examples: Sequence[Example]) -> list[int]:
    """Each example's class: the hard label, else the teacher's most probable label."""
    classes = []
    for example in examples:
        if example.hard_label != IGNORE_INDEX:
            classes.append(example.hard_label)
        elif example.probabilities:
            values = example.probabilities
            classes.append(max(range(len(values)), key=values.__getitem__))
        else:
            classes.append(IGNORE_INDEX)
    return classes


def epochs_for(rows: int) -> float:
    """Epochs for ``rows`` training rows: at least :data:`TARGET_STEPS_SAMPLES` rows seen,
    within [MIN_EPOCHS, MAX_EPOCHS]."""
    wanted = math.ceil(TARGET_STEPS_SAMPLES / max(rows, 1))
    return float(min(max(wanted, MIN_EPOCHS), MAX_EPOCHS))


def make_recipe(config: TrainConfig, task: str, train: Sequence[Example], labels: int) -> Recipe:
    """The recipe for ``config`` on these training rows."""
    epochs = config.epochs if config.epochs is not None else epochs_for(len(train))
    if task != "classification":
        return Recipe(epochs, (), "off", (), (), "generation: no classes")
    classes = row_classes(train)
    counts = tuple(sum(1 for c in classes if c == k) for k in range(labels))
    mode, reason = _balance_mode(config.balance, counts)
    ones = tuple(1.0 for _ in counts)
    if mode == "sampler":
        return Recipe(epochs, counts, mode, epoch_counts(counts, len(classes)), ones, reason)
    if mode == "weights":
        return Recipe(epochs, counts, mode, counts, class_weights(counts), reason)
    return Recipe(epochs, counts, "off", counts, ones, reason)


def _balance_mode(balance: Balance, counts: tuple[int, ...]) -> tuple[str, str]:
    present = [n for n in counts if n > 0]
    ratio = max(present) / min(present) if present else 1.0
    shape = f"the largest class has {ratio:.1f}x the rows of the smallest"
    if balance == "off":
        return "off", f"class-aware training is off (--balance off); {shape}"
    if balance != "auto":
        return balance, f"class-aware training: {balance} (--balance); {shape}"
    if ratio >= SKEW_RATIO:
        return "sampler", f"class-aware sampling is on: {shape} (>= {SKEW_RATIO:g}x)"
    return "off", f"class-aware training is off: {shape} (< {SKEW_RATIO:g}x)"


def epoch_counts(
    counts: Sequence[int], total: int, power: float = BALANCE_POWER
) -> tuple[int, ...]:
    """Rows drawn per class in one epoch of ``total`` rows: shares ``n_c ** power``,
    rounded so they add up to ``total`` (largest remainders first)."""
    shares = [n**power if n > 0 else 0.0 for n in counts]
    whole = sum(shares) or 1.0
    exact = [total * s / whole for s in shares]
    drawn = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: drawn[i] - exact[i])
    for i in order[: total - sum(drawn)]:
        drawn[i] += 1
    return tuple(drawn)


def class_weights(counts: Sequence[int], power: float = BALANCE_POWER) -> tuple[float, ...]:
    """Loss weights ``(N / (C * n_c)) ** power`` (1.0 for an empty class), mean 1 over rows."""
    present = [n for n in counts if n > 0]
    total, kinds = sum(present), len(present)
    raw = [(total / (kinds * n)) ** power if n > 0 else 1.0 for n in counts]
    mean = sum(w * n for w, n in zip(raw, counts, strict=True)) / max(total, 1)
    return tuple(round(w / mean, 6) for w in raw)
