"""The metrics against scikit-learn (and ECE against a plain loop), on random inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from core.evaluate import metrics
from core.evaluate.metrics import ECE_BINS, classification_scores, reliability

PROPERTY = settings(max_examples=150, deadline=None)


@st.composite
def labelled(draw, *, invalid: bool):
    """(y_true, y_pred, k): predictions may include k ("no valid answer") if ``invalid``."""
    k = draw(st.integers(2, 6))
    n = draw(st.integers(1, 120))
    top = k if invalid else k - 1
    y_true = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    y_pred = np.array(draw(st.lists(st.integers(0, top), min_size=n, max_size=n)))
    return y_true, y_pred, k


@st.composite
def probabilities(draw):
    """(probs, y_true): rows of random probability vectors, some on bin edges exactly."""
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 80))
    raw = np.array(
        draw(
            st.lists(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k), min_size=n, max_size=n)
        )
    )
    raw[:, 0] += 1e-3  # no all-zero row
    probs = raw / raw.sum(axis=1, keepdims=True)
    if draw(st.booleans()):  # confidences exactly on a bin edge: the boundary rule matters
        edge = draw(st.integers(ECE_BINS // k + 1, ECE_BINS)) / ECE_BINS
        probs[0] = (1 - edge) / (k - 1)
        probs[0, 0] = edge
    y_true = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return probs, y_true


def reference_ece(probs: np.ndarray, y_true: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE as Guo et al. (2017) write it: a loop over (lower, upper] bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    bounds = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for lower, upper in itertools.pairwise(bounds):
        in_bin = (confidence > lower) & (confidence <= upper)
        if in_bin.any():
            total += abs(correct[in_bin].mean() - confidence[in_bin].mean()) * in_bin.mean()
    return float(total)


@PROPERTY
@given(labelled(invalid=False))
def test_accuracy_macro_f1_and_confusion_match_sklearn(case):
    y_true, y_pred, k = case
    scores = classification_scores(y_true, y_pred, k)
    assert scores.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert scores.macro_f1 == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    assert (scores.confusion == confusion_matrix(y_true, y_pred, labels=range(k))).all()
    assert scores.invalid == 0


@PROPERTY
@given(labelled(invalid=True))
def test_per_class_scores_match_sklearn_with_invalid_answers(case):
    y_true, y_pred, k = case
    scores = classification_scores(y_true, y_pred, k)
    p, r, f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=range(k), zero_division=0
    )
    np.testing.assert_allclose(scores.precision, p)
    np.testing.assert_allclose(scores.recall, r)
    np.testing.assert_allclose(scores.f1, f)
    np.testing.assert_array_equal(scores.support, support)
    assert (scores.confusion == confusion_matrix(y_true, y_pred, labels=range(k))).all()
    # An invalid answer is wrong, and nobody's false positive.
    assert scores.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    present = sorted((set(y_true.tolist()) | set(y_pred.tolist())) - {k})
    assert scores.macro_f1 == pytest.approx(
        f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    )
    assert scores.invalid == int((y_pred == k).sum())


@PROPERTY
@given(labelled(invalid=False))
def test_agreement_is_accuracy_between_two_models(case):
    a, b, _ = case
    assert metrics.agreement(a, b) == pytest.approx(accuracy_score(a, b))


@PROPERTY
@given(probabilities())
def test_ece_matches_the_reference_loop(case):
    probs, y_true = case
    rel = reliability(probs, y_true)
    assert rel.ece == pytest.approx(reference_ece(probs, y_true), abs=1e-12)
    assert rel.counts.sum() == len(y_true)
    assert metrics.expected_calibration_error(probs, y_true) == rel.ece


def test_ece_of_a_perfectly_calibrated_and_an_overconfident_model():
    confident_right = np.array([[0.9, 0.1]] * 9 + [[0.1, 0.9]])
    y = np.array([0] * 9 + [0])  # 9 of 10 right at confidence 0.9: calibrated
    assert reliability(confident_right, y).ece == pytest.approx(0.0)
    overconfident = np.array([[0.99, 0.01]] * 10)
    y = np.array([0] * 5 + [1] * 5)
    assert reliability(overconfident, y).ece == pytest.approx(0.49)


@PROPERTY
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=6), st.floats(0.05, 20))
def test_softmax_rows_sum_to_one_and_keep_the_argmax(logits, temperature):
    row = np.array([logits])
    probs = metrics.softmax(row, temperature)
    assert probs.sum() == pytest.approx(1.0)
    assert probs[0, np.argmax(row)] == pytest.approx(probs.max())


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="equal length"):
        classification_scores(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(ValueError, match="outside the label set"):
        classification_scores(np.array([0, 3]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="one label per row"):
        reliability(np.ones((3, 2)) / 2, np.array([0, 1]))
