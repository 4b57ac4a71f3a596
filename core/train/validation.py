"""Validation figures while a classifier trains: accuracy, macro-F1, retention of the
teacher's macro-F1 and the worst class's retention of the teacher's F1 (as the evaluation
defines them), at every validation step.

The reference is each validation row's eval label (the human label, else the teacher's);
the teacher's predictions are its most probable labels, so its figures cost nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.train.data import Example
from core.train.losses import IGNORE_INDEX

if TYPE_CHECKING:
    from core.evaluate.metrics import IntArray


@dataclass(frozen=True, slots=True)
class ClassRetention:
    """The worst class's retention (student F1 / teacher F1) and its index."""

    retention: float
    index: int


class ValidationScorer:
    """``compute_metrics`` for the Trainer, with the teacher's figures on the same rows."""

    def __init__(self, validation: Sequence[Example], labels: int) -> None:
        import numpy as np

        rows = [e for e in validation if e.eval_label != IGNORE_INDEX and e.probabilities]
        self.k = labels
        self.keep = np.array(
            [e.eval_label != IGNORE_INDEX and bool(e.probabilities) for e in validation]
        )
        self.truth: IntArray = np.array([e.eval_label for e in rows], dtype=np.int64)
        self.teacher: IntArray = np.array(
            [int(np.argmax(e.probabilities or ())) for e in rows], dtype=np.int64
        )

    @property
    def rows(self) -> int:
        return int(self.truth.size)

    def predictions(self, logits: Any) -> IntArray:
        """The student's labels on the scored rows (those with a reference)."""
        import numpy as np

        logits = logits[0] if isinstance(logits, tuple) else logits
        return np.asarray(np.argmax(logits, axis=-1)[self.keep], dtype=np.int64)

    def __call__(self, eval_pred: Any) -> dict[str, float]:
        if not self.rows:
            return {"accuracy": 0.0, "macro_f1": 0.0}
        student = self.predictions(eval_pred.predictions)
        return figures(self.truth, student, self.teacher, self.k)


def figures(truth: IntArray, student: IntArray, teacher: IntArray, k: int) -> dict[str, float]:
    """Accuracy, macro-F1, retention and the worst class's retention of the student."""
    from core.evaluate.metrics import classification_scores

    ours = classification_scores(truth, student, k)
    base = classification_scores(truth, teacher, k)
    values = {"accuracy": ours.accuracy, "macro_f1": ours.macro_f1}
    if base.macro_f1 > 0:
        values["retention"] = ours.macro_f1 / base.macro_f1
    worst = worst_class(ours.f1.tolist(), base.f1.tolist())
    if worst is not None:
        values["worst_class_retention"] = worst.retention
        values["worst_class"] = float(worst.index)
    return values


def worst_class(student_f1: Sequence[float], teacher_f1: Sequence[float]) -> ClassRetention | None:
    """The class whose F1 keeps the smallest share of the teacher's (teacher F1 > 0 only)."""
    kept = [
        ClassRetention(float(s) / float(t), i)
        for i, (s, t) in enumerate(zip(student_f1, teacher_f1, strict=True))
        if t > 0
    ]
    return min(kept, key=lambda c: c.retention) if kept else None
