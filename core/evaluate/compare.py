"""Scoring every model column on one set, against the right reference, on the same rows.

The reference is the human labels where the set has them, else the teacher's answers (then
the teacher scores 1 by definition and retention is the student's agreement with it).
Retention is only ever taken over rows that both the teacher and the student were scored on;
rows without a teacher answer are scored against the human labels alone, and the report
says so. Every figure carries a 95% bootstrap interval over the set's rows
(:mod:`core.evaluate.uncertainty`); retention resamples the teacher's and the model's answers
on the same rows.
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
    IntArray,
    Reliability,
    classification_scores,
    reliability,
    softmax,
)
from core.evaluate.textmetrics import GenerationScores, generation_scores, rouge_l
from core.evaluate.uncertainty import Interval, bootstrap

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
    intervals: dict[str, Interval | None] = field(default_factory=dict)
    predictions: IntArray | None = None  # per compared row (classification)
    probabilities: FloatArray | None = None  # per compared row, after its temperature

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
    truth: IntArray | None = None  # the reference label of each compared row


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
    result.truth = (eset.human if rows.reference == "human" else eset.teacher)[rows.mask]
    if rows.has_teacher:
        teacher = _teacher_classification(eset, rows, human, answered, teacher_ok, k)
        result.models[TEACHER] = teacher
        teacher_primary = teacher.primary
    for name, values in logits.items():
        model = _classifier_column(eset, rows, name, values, temperatures.get(name), k)
        if rows.has_teacher:
            model.retention = _ratio(model.primary, teacher_primary)
            model.intervals["retention"] = _retention_interval(
                result.truth, model.predictions, eset.teacher[rows.mask], k
            )
        result.models[name] = model
    return result


def macro_f1_difference(
    truth: IntArray, a: IntArray, b: IntArray, k: int
) -> tuple[float, Interval | None]:
    """Macro-F1 of ``a`` minus that of ``b`` on the same rows, with its paired interval."""

    def difference(i: IntArray) -> float:
        return _macro_f1(truth[i], a[i], k) - _macro_f1(truth[i], b[i], k)

    return difference(np.arange(truth.size)), bootstrap(truth.size, difference)


def _macro_f1(truth: IntArray, predicted: IntArray, k: int) -> float:
    return classification_scores(truth, predicted, k).macro_f1


def _retention_interval(
    truth: IntArray, student: IntArray | None, teacher: IntArray, k: int
) -> Interval | None:
    """Paired: the student's and the teacher's macro-F1 on the same resampled rows."""
    if student is None:
        return None

    def retention(i: IntArray) -> float:
        base = _macro_f1(truth[i], teacher[i], k)
        return _macro_f1(truth[i], student[i], k) / base if base > 0 else float("nan")

    return bootstrap(truth.size, retention)


def _classifier_column(
    eset: EvalSet, rows: _Rows, name: str, logits: FloatArray, temperature: float | None, k: int
) -> ModelResult:
    ref = (eset.human if rows.reference == "human" else eset.teacher)[rows.mask]
    human = eset.human >= 0
    teacher_ok = (eset.teacher >= 0) & (eset.teacher < k)
    probs = softmax(logits)
    pred = probs.argmax(axis=1)
    compared = pred[rows.mask]
    scores = classification_scores(ref, compared, k)
    model = ModelResult(name, scores, scores.macro_f1, predictions=compared)
    if human.any():
        model.human = classification_scores(eset.human[human], pred[human], k)
    if teacher_ok.any():
        model.vs_teacher = classification_scores(eset.teacher[teacher_ok], pred[teacher_ok], k)
        answers, picked = eset.teacher[teacher_ok], pred[teacher_ok]
        model.intervals["agreement"] = bootstrap(
            answers.size, lambda i: float(np.mean(answers[i] == picked[i]))
        )
    model.reliability = reliability(probs[rows.mask], ref)
    model.probabilities = probs[rows.mask]
    if temperature is not None:
        model.probabilities = softmax(logits[rows.mask], temperature)
        model.reliability_calibrated = reliability(model.probabilities, ref)
    gated = model.probabilities
    model.intervals["metric"] = bootstrap(ref.size, lambda i: _macro_f1(ref[i], compared[i], k))
    model.intervals["ECE"] = bootstrap(ref.size, lambda i: reliability(gated[i], ref[i]).ece)
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
    truth, answers = ref[rows.mask], eset.teacher[rows.mask]
    scores = classification_scores(truth, answers, k)
    model = ModelResult(TEACHER, scores, scores.macro_f1, predictions=answers)
    model.intervals["metric"] = bootstrap(truth.size, lambda i: _macro_f1(truth[i], answers[i], k))
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
    teacher_rows = np.ones(len(refs))
    if rows.has_teacher:
        teacher_texts = _texts(eset.teacher_text, rows.mask)
        scores = generation_scores(teacher_texts, refs)
        human_scores = scores if rows.reference == "human" else None
        result.models[TEACHER] = ModelResult(TEACHER, scores, scores.rouge_l, human=human_scores)
        teacher_primary = scores.rouge_l
        teacher_rows = _per_row_rouge(teacher_texts, refs)
    for name, texts in generations.items():
        candidates = _texts(texts, rows.mask)
        scores = generation_scores(candidates, refs)
        model = ModelResult(name, scores, scores.rouge_l)
        per_row = _per_row_rouge(candidates, refs)
        model.intervals["metric"] = _mean_interval(per_row)
        if rows.has_teacher:
            model.retention = _ratio(scores.rouge_l, teacher_primary)
            model.intervals["retention"] = _mean_ratio_interval(per_row, teacher_rows)
        if human.any():
            model.human = generation_scores(_texts(texts, human), _texts(eset.human_text, human))
        if teacher_ok.any():
            model.vs_teacher = generation_scores(
                _texts(texts, teacher_ok), _texts(eset.teacher_text, teacher_ok)
            )
        result.models[name] = model
    return result


def _per_row_rouge(candidates: Sequence[str], references: Sequence[str]) -> FloatArray:
    return np.array([rouge_l(c, r) for c, r in zip(candidates, references, strict=True)])


def _mean_interval(values: FloatArray) -> Interval | None:
    return bootstrap(values.size, lambda i: float(values[i].mean()))


def _mean_ratio_interval(student: FloatArray, teacher: FloatArray) -> Interval | None:
    def ratio(i: IntArray) -> float:
        base = float(teacher[i].mean())
        return float(student[i].mean()) / base if base > 0 else float("nan")

    return bootstrap(student.size, ratio)


def _texts(values: Sequence[str | None], mask: np.ndarray) -> list[str]:
    return [str(values[int(i)]) for i in np.flatnonzero(mask)]


def _ratio(student: float, teacher: float) -> float | None:
    return student / teacher if teacher > 0 else None
