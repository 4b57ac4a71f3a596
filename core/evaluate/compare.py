"""Scoring every model column on one set, against the right reference, on the same rows.

The reference is the human labels where the set has them, else the teacher's answers (then
the teacher scores 1 by definition and retention is the student's agreement with it).
Retention is only ever taken over rows that both the teacher and the student were scored on;
rows without a teacher answer are scored against the human labels alone, and the report
says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.evaluate.config import TEACHER
from core.evaluate.inputs import EvalSet
from core.evaluate.metrics import (
    ClassificationScores,
    FloatArray,
    Reliability,
    classification_scores,
    reliability,
    softmax,
)
from core.evaluate.textmetrics import GenerationScores, generation_scores

PRIMARY = {"classification": "macro_f1", "generation": "rouge_l"}

Scores = ClassificationScores | GenerationScores


@dataclass
class ModelResult:
    """One model on one set. ``scores`` is against the set's reference on the compared rows."""

    model: str
    scores: Scores
    primary: float
    human: Scores | None = None
    vs_teacher: Scores | None = None
    retention: float | None = None
    reliability: Reliability | None = None
    reliability_calibrated: Reliability | None = None

    @property
    def agreement(self) -> float | None:
        if isinstance(self.vs_teacher, ClassificationScores):
            return self.vs_teacher.accuracy
        if isinstance(self.vs_teacher, GenerationScores):
            return self.vs_teacher.exact_match
        return None


@dataclass
class SetResult:
    split: str
    rows: int
    reference: str  # human | teacher
    compared: int
    has_teacher: bool
    models: dict[str, ModelResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Rows:
    mask: np.ndarray
    reference: str
    has_teacher: bool


def _comparison_rows(human: np.ndarray, teacher_ok: np.ndarray, answered: np.ndarray) -> _Rows:
    if human.any():
        both = human & answered
        return _Rows(both, "human", True) if both.any() else _Rows(human, "human", False)
    return _Rows(teacher_ok, "teacher", bool(teacher_ok.any()))


def _notes(eset: EvalSet, rows: _Rows, answered: np.ndarray, human: np.ndarray) -> list[str]:
    notes = []
    missing = int((human & ~answered).sum())
    if rows.reference == "human" and not rows.has_teacher:
        notes.append(
            "no teacher answers on this set: scored against the human labels only; "
            "retention cannot be computed"
        )
    elif missing:
        notes.append(
            f"{missing:,} of {int(human.sum()):,} human-labelled rows have no teacher "
            "answer: retention uses the other rows; human-label scores use all"
        )
    if rows.reference == "teacher":
        notes.append("no human labels on this set: the teacher's answers are the reference")
    if eset.unknown_labels:
        notes.append(f"{eset.unknown_labels:,} human labels are outside the label set; ignored")
    if eset.without_text:
        notes.append(f"{eset.without_text:,} records have no anonymized text and were skipped")
    return notes


def classification_set(
    eset: EvalSet, logits: dict[str, FloatArray], temperatures: dict[str, float], k: int
) -> SetResult | None:
    """Score the teacher's stored answers and every scorer's logits on one set.

    Returns:
        None when the set has nothing to compare against (no human labels, no teacher).
    """
    human, answered = eset.human >= 0, eset.teacher >= 0
    teacher_ok = answered & (eset.teacher < k)
    rows = _comparison_rows(human, teacher_ok, answered)
    if not rows.mask.any():
        return None
    result = SetResult(eset.split, len(eset), rows.reference, int(rows.mask.sum()),
                       rows.has_teacher, notes=_notes(eset, rows, answered, human))  # fmt: skip
    teacher_primary = 1.0
    if rows.has_teacher:
        teacher = _teacher_classification(eset, rows, human, answered, teacher_ok, k)
        result.models[TEACHER] = teacher
        teacher_primary = teacher.primary
    for name, values in logits.items():
        model = _classifier_column(eset, rows, name, values, temperatures.get(name), k)
        if rows.has_teacher:
            model.retention = _ratio(model.primary, teacher_primary)
        result.models[name] = model
    return result


def _classifier_column(
    eset: EvalSet, rows: _Rows, name: str, logits: FloatArray, temperature: float | None, k: int
) -> ModelResult:
    ref = (eset.human if rows.reference == "human" else eset.teacher)[rows.mask]
    human = eset.human >= 0
    teacher_ok = (eset.teacher >= 0) & (eset.teacher < k)
    probs = softmax(logits)
    pred = probs.argmax(axis=1)
    scores = classification_scores(ref, pred[rows.mask], k)
    model = ModelResult(name, scores, scores.macro_f1)
    if human.any():
        model.human = classification_scores(eset.human[human], pred[human], k)
    if teacher_ok.any():
        model.vs_teacher = classification_scores(eset.teacher[teacher_ok], pred[teacher_ok], k)
    model.reliability = reliability(probs[rows.mask], ref)
    if temperature is not None:
        calibrated = softmax(logits[rows.mask], temperature)
        model.reliability_calibrated = reliability(calibrated, ref)
    return model


def _teacher_classification(
    eset: EvalSet,
    rows: _Rows,
    human: np.ndarray,
    answered: np.ndarray,
    teacher_ok: np.ndarray,
    k: int,
) -> ModelResult:
    ref = eset.human if rows.reference == "human" else eset.teacher
    scores = classification_scores(ref[rows.mask], eset.teacher[rows.mask], k)
    model = ModelResult(TEACHER, scores, scores.macro_f1)
    if human.any():
        labelled = human & answered
        model.human = classification_scores(eset.human[labelled], eset.teacher[labelled], k)
    # Calibration against the teacher itself would be meaningless; only against humans.
    calibrated_rows = rows.mask & teacher_ok & ~np.isnan(eset.teacher_probs).any(axis=1)
    if rows.reference == "human" and calibrated_rows.any():
        model.reliability = reliability(
            eset.teacher_probs[calibrated_rows], eset.human[calibrated_rows]
        )
    return model


def generation_set(eset: EvalSet, generations: dict[str, list[str]]) -> SetResult | None:
    """Score the teacher's stored text and every scorer's generations on one set.

    Returns:
        None when the set has nothing to compare against.
    """
    human = np.array([t is not None and t != "" for t in eset.human_text], dtype=bool)
    teacher_ok = np.array([t is not None for t in eset.teacher_text], dtype=bool)
    rows = _comparison_rows(human, teacher_ok, teacher_ok)
    if not rows.mask.any():
        return None
    refs = _texts(eset.human_text if rows.reference == "human" else eset.teacher_text, rows.mask)
    result = SetResult(eset.split, len(eset), rows.reference, len(refs), rows.has_teacher,
                       notes=_notes(eset, rows, teacher_ok, human))  # fmt: skip
    teacher_primary = 1.0
    if rows.has_teacher:
        scores = generation_scores(_texts(eset.teacher_text, rows.mask), refs)
        human_scores = scores if rows.reference == "human" else None
        result.models[TEACHER] = ModelResult(TEACHER, scores, scores.rouge_l, human=human_scores)
        teacher_primary = scores.rouge_l
    for name, texts in generations.items():
        scores = generation_scores(_texts(texts, rows.mask), refs)
        model = ModelResult(name, scores, scores.rouge_l)
        if rows.has_teacher:
            model.retention = _ratio(scores.rouge_l, teacher_primary)
        if human.any():
            model.human = generation_scores(_texts(texts, human), _texts(eset.human_text, human))
        if teacher_ok.any():
            model.vs_teacher = generation_scores(
                _texts(texts, teacher_ok), _texts(eset.teacher_text, teacher_ok)
            )
        result.models[name] = model
    return result


def _texts(values: Sequence[str | None], mask: np.ndarray) -> list[str]:
    return [str(values[int(i)]) for i in np.flatnonzero(mask)]


def _ratio(student: float, teacher: float) -> float | None:
    return student / teacher if teacher > 0 else None
