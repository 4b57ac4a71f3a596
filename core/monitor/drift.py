"""Drift tests for one window against a reference, from scipy and scikit-learn.

- Inputs: a classifier two-sample test (Lopez-Paz & Oquab, 2017). A logistic regression
  learns to tell the window's fingerprints from the training split's on one half of each,
  and scores the other half; under "no drift" its scores on held-out window rows are no
  higher than on held-out reference rows, so a one-sided Mann-Whitney test of the held-out
  scores (``scipy.stats.mannwhitneyu``) gives an exact p-value, and U / (n₁·n₂) is the AUC
  (0.5: indistinguishable, 1: fully apart). Why this and not MMD: MMD needs a permutation
  null (hundreds of kernel sums per window); the held-out split gives a valid p-value in
  one fit, and the fitted model also scores each request (the worst-drifting examples).
- Predicted labels: chi-square on the window's label counts against the test set's
  (``scipy.stats.chi2_contingency``), with the population stability index shown.
- Confidences and input lengths: two-sample Kolmogorov-Smirnov (``scipy.stats.ks_2samp``).

Why no drift library (Evidently, frouros): each would add a large dependency tree to an
air-gapped install for tests that scipy already has; the decisions that matter here (which
reference, which features, the false-alarm budget) are ours either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_PSI_EPSILON = 1e-4


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """A test's statistic and p-value (None: not enough rows to test)."""

    statistic: float | None
    p_value: float | None


def features(fingerprints: npt.NDArray[np.integer], chars: npt.NDArray[np.integer]) -> FloatArray:
    """What the input test sees of a request: its n-gram bucket shares (log-scaled, so a
    long text does not dominate) and its log length."""
    counts = np.log1p(np.asarray(fingerprints, dtype=np.float64))
    norms = np.linalg.norm(counts, axis=1, keepdims=True)
    shares = counts / np.where(norms > 0, norms, 1.0)
    length = np.log1p(np.asarray(chars, dtype=np.float64))[:, None]
    return np.hstack([shares, length])


def _classifier(seed: int) -> object:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=0.5, max_iter=300, random_state=seed)
    )


def input_drift(reference: FloatArray, window: FloatArray, *, seed: int = 0) -> TestOutcome:
    """The classifier two-sample test: (AUC of held-out scores, one-sided p-value)."""
    from scipy.stats import mannwhitneyu

    # Repeated requests would sit in both halves, and the classifier would "recognise" them:
    # each distinct input is counted once.
    reference, window = np.unique(reference, axis=0), np.unique(window, axis=0)
    rng = np.random.default_rng(seed)
    ref_order, win_order = rng.permutation(len(reference)), rng.permutation(len(window))
    ref_fit, ref_test = np.array_split(ref_order, 2)
    win_fit, win_test = np.array_split(win_order, 2)
    if min(len(ref_test), len(win_test), len(ref_fit), len(win_fit)) < 5:
        return TestOutcome(None, None)
    x = np.vstack([reference[ref_fit], window[win_fit]])
    y = np.r_[np.zeros(len(ref_fit)), np.ones(len(win_fit))]
    model = _classifier(seed)
    model.fit(x, y)  # type: ignore[attr-defined]
    scores_ref = model.decision_function(reference[ref_test])  # type: ignore[attr-defined]
    scores_win = model.decision_function(window[win_test])  # type: ignore[attr-defined]
    test = mannwhitneyu(scores_win, scores_ref, alternative="greater")
    auc = float(test.statistic) / (len(scores_win) * len(scores_ref))
    return TestOutcome(auc, float(test.pvalue))


def drift_scores(reference: FloatArray, rows: FloatArray, *, seed: int = 0) -> FloatArray:
    """Each row's probability of coming from ``rows`` rather than the reference, out of
    fold (3-fold cross-fitting): how far each request is from the training data."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if len(rows) < 6 or len(reference) < 6:
        return np.full(len(rows), 0.5)
    x = np.vstack([reference, rows])
    y = np.r_[np.zeros(len(reference)), np.ones(len(rows))]
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    scores = cross_val_predict(_classifier(seed), x, y, cv=folds, method="predict_proba")
    return np.asarray(scores[len(reference) :, 1], dtype=np.float64)


def label_drift(reference: npt.NDArray[np.integer], window: npt.NDArray[np.integer]) -> TestOutcome:
    """Chi-square test of the window's predicted-label counts against the reference's."""
    from scipy.stats import chi2_contingency

    table = np.vstack([reference, window]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or window.sum() == 0:
        return TestOutcome(None, None)
    result = chi2_contingency(table)
    return TestOutcome(float(result.statistic), float(result.pvalue))


def psi(reference: npt.NDArray[np.integer], window: npt.NDArray[np.integer]) -> float:
    """The population stability index of two count vectors (shown, not tested)."""
    ref = np.maximum(reference / max(reference.sum(), 1), _PSI_EPSILON)
    win = np.maximum(window / max(window.sum(), 1), _PSI_EPSILON)
    return float(np.sum((win - ref) * np.log(win / ref)))


def distribution_drift(reference: FloatArray, window: FloatArray) -> TestOutcome:
    """Two-sample Kolmogorov-Smirnov test (confidences, lengths)."""
    from scipy.stats import ks_2samp

    if len(reference) == 0 or len(window) == 0:
        return TestOutcome(None, None)
    result = ks_2samp(window, reference)
    return TestOutcome(float(result.statistic), float(result.pvalue))
