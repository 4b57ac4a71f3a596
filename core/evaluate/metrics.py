"""Classification metrics and calibration error, in numpy (checked against scikit-learn).

Labels are integer class indices ``0..K-1`` in the project's label order. A prediction equal
to ``K`` means "no valid answer" (a teacher that answered outside the label set): it is
wrong for accuracy and recall, and is nobody's false positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ECE_BINS = 15

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClassificationScores:
    """Task metrics of one model against one reference on one set.

    Attributes:
        n: rows scored.
        accuracy: share of rows whose prediction equals the reference.
        macro_f1: the unweighted mean F1 over the classes present in the reference or the
            predictions (scikit-learn's default set of labels).
        precision: per class, in label order (0 where nothing was predicted).
        recall: per class (0 where the class does not occur).
        f1: per class.
        support: rows of each class in the reference.
        confusion: ``confusion[i, j]`` rows of reference class i predicted as j.
        invalid: predictions that were no valid answer.
    """

    n: int
    accuracy: float
    macro_f1: float
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    support: IntArray
    confusion: IntArray
    invalid: int


@dataclass(frozen=True, slots=True)
class Reliability:
    """A reliability diagram's data: per equal-width confidence bin, count and means."""

    edges: FloatArray
    counts: IntArray
    confidence: FloatArray  # mean confidence per bin (0 where empty)
    accuracy: FloatArray  # share correct per bin (0 where empty)
    ece: float


def confusion_matrix(y_true: IntArray, y_pred: IntArray, n_classes: int) -> IntArray:
    """Counts of (reference, prediction) pairs; invalid predictions are in no column."""
    y_true, y_pred = _as_int(y_true), _as_int(y_pred)
    keep = (y_pred >= 0) & (y_pred < n_classes)
    flat = y_true[keep] * n_classes + y_pred[keep]
    counts = np.bincount(flat, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


def classification_scores(
    y_true: IntArray, y_pred: IntArray, n_classes: int
) -> ClassificationScores:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.

    Raises:
        ValueError: the arrays differ in length or are empty, or a reference is out of range.
    """
    y_true, y_pred = _as_int(y_true), _as_int(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError("references and predictions must be non-empty and of equal length")
    if y_true.min() < 0 or y_true.max() >= n_classes:
        raise ValueError("a reference label is outside the label set")
    confusion = confusion_matrix(y_true, y_pred, n_classes)
    true_pos = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    support = np.bincount(y_true, minlength=n_classes).astype(np.int64)
    precision = _safe_divide(true_pos, predicted)
    recall = _safe_divide(true_pos, support.astype(np.float64))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    present = (support > 0) | (predicted > 0)
    return ClassificationScores(
        n=int(y_true.size),
        accuracy=float(np.mean(y_true == y_pred)),
        macro_f1=float(f1[present].mean()),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        confusion=confusion,
        invalid=int(np.sum((y_pred < 0) | (y_pred >= n_classes))),
    )


def agreement(a: IntArray, b: IntArray) -> float:
    """The share of rows on which two models give the same answer.

    Raises:
        ValueError: the arrays differ in length or are empty.
    """
    a, b = _as_int(a), _as_int(b)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("agreement needs two non-empty answer lists of equal length")
    return float(np.mean(a == b))


def reliability(probabilities: FloatArray, y_true: IntArray, n_bins: int = ECE_BINS) -> Reliability:
    """Expected calibration error over ``n_bins`` equal-width confidence bins, with the bins.

    A row falls in bin b when ``edges[b] < confidence <= edges[b + 1]`` (Guo et al., 2017);
    ECE is the row-weighted mean gap between accuracy and confidence over the bins.

    Raises:
        ValueError: shapes do not match or there are no rows.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    y_true = _as_int(y_true)
    if probs.ndim != 2 or probs.shape[0] != y_true.size or y_true.size == 0:
        raise ValueError("probabilities must be (rows, classes) with one label per row")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # searchsorted on the upper edges reproduces "lower < c <= upper" exactly, same edges.
    index = np.clip(np.searchsorted(edges[1:], confidence, side="left"), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins).astype(np.int64)
    conf_sum = np.bincount(index, weights=confidence, minlength=n_bins).astype(np.float64)
    right_sum = np.bincount(index, weights=correct, minlength=n_bins).astype(np.float64)
    mean_conf = _safe_divide(conf_sum, counts.astype(np.float64))
    mean_acc = _safe_divide(right_sum, counts.astype(np.float64))
    ece = float(np.sum(np.abs(mean_acc - mean_conf) * counts) / y_true.size)
    return Reliability(edges, counts, mean_conf, mean_acc, ece)


def expected_calibration_error(
    probabilities: FloatArray, y_true: IntArray, n_bins: int = ECE_BINS
) -> float:
    """ECE with ``n_bins`` equal-width bins (see :func:`reliability`).

    Raises:
        ValueError: shapes do not match or there are no rows.
    """
    return reliability(probabilities, y_true, n_bins).ece


def softmax(logits: FloatArray, temperature: float = 1.0) -> FloatArray:
    """Row-wise ``softmax(logits / temperature)``, stable for large logits."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exps = np.exp(scaled)
    out: FloatArray = exps / exps.sum(axis=1, keepdims=True)
    return out


def _safe_divide(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _as_int(values: IntArray) -> IntArray:
    return np.asarray(values, dtype=np.int64).ravel()
