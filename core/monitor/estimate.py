"""Quality without labels: confidence-based performance estimation (CBPE, as NannyML does).

If the probabilities a model gives are calibrated — of the requests it answers with
probability 0.8, four in five are right — then the expected accuracy of a window is the
mean probability of the answered label, and the expected confusion matrix (hence macro-F1)
follows from the probability vectors: for class c, E[TP] = Σ p(c) over rows answered c,
E[FP] = Σ (1 - p(c)) over the same rows, E[FN] = Σ p(c) over the other rows.

The interval: the labels of a window are, under calibration, independent draws from the
rows' probability vectors; :data:`~core.monitor.plan.ESTIMATE_DRAWS` such draws give the
spread of the accuracy and macro-F1 a window of that size can have. It is the sampling
interval of the realised figure, and it assumes calibration holds on these inputs: it does
under covariate shift (new inputs of a kind the model was calibrated on), not when the
meaning of the labels changes or the inputs are of a kind never seen, which is why the
monitor shows input drift and the shadow teacher's agreement beside it.

A change of the label mix (prior shift: one label's share tripled) also breaks calibration:
p(y | x) was calibrated under the training mix. :func:`adjust_to_priors` corrects for it
with the EM of Saerens, Latinne & Decaestecker (2002, "Adjusting the outputs of a
classifier to new a priori probabilities"): it estimates the window's label mix from the
probabilities themselves and re-weights each row by new/old prior, p'(y | x) ∝ p(y | x) ·
π'(y) / π(y), until the mix is stable; the estimate then reads the adjusted probabilities.
Twenty lines of numpy: scikit-learn and scipy have no implementation, and QuaPy (which has
one, ``EMQ``) would bring a framework into the air-gapped install for one loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.monitor.plan import ESTIMATE_DRAWS, INTERVAL, PRIOR_EM_ITERATIONS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Estimate:
    """Estimated accuracy and macro-F1 of a window, each with its 95% interval."""

    accuracy: float
    accuracy_low: float
    accuracy_high: float
    macro_f1: float
    macro_f1_low: float
    macro_f1_high: float


def adjust_to_priors(
    probabilities: FloatArray,
    training_prior: FloatArray,
    *,
    iterations: int = PRIOR_EM_ITERATIONS,
    tolerance: float = 1e-6,
) -> tuple[FloatArray, FloatArray]:
    """Saerens-Latinne-Decaestecker EM: the rows' probabilities under the label mix that
    best explains them, and that mix.

    Args:
        probabilities: calibrated probabilities (rows x labels), each row summing to 1.
        training_prior: the label mix they were calibrated under (sums to 1).
        iterations: the most EM steps.
        tolerance: stop once no label's share moves by more than this.

    Raises:
        ValueError: shapes that do not match, or a training prior with a zero share.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    base = np.asarray(training_prior, dtype=np.float64)
    if p.ndim != 2 or base.shape != (p.shape[1],) or (base <= 0).any():
        raise ValueError("the EM needs (rows, labels) probabilities and a positive prior a label")
    base = base / base.sum()
    prior, adjusted = base, p
    for _ in range(iterations):
        weighted = p * (prior / base)  # E step: Bayes' rule under the current mix
        adjusted = weighted / weighted.sum(axis=1, keepdims=True)
        updated = adjusted.mean(axis=0)  # M step: the mix those posteriors imply
        converged = float(np.abs(updated - prior).max()) < tolerance
        prior = updated
        if converged:
            break
    weighted = p * (prior / base)
    return weighted / weighted.sum(axis=1, keepdims=True), prior


def expected_macro_f1(probabilities: FloatArray, predicted: IntArray) -> float:
    """Macro-F1 from the expected confusion counts (classes never answered nor expected
    are left out of the mean)."""
    k = probabilities.shape[1]
    answered = np.eye(k, dtype=np.float64)[predicted]  # one-hot of the answers
    tp = (probabilities * answered).sum(axis=0)
    fp = ((1.0 - probabilities) * answered).sum(axis=0)
    fn = (probabilities * (1.0 - answered)).sum(axis=0)
    denominator = 2 * tp + fp + fn
    present = denominator > 1e-12
    return float(np.mean(2 * tp[present] / denominator[present])) if present.any() else 0.0


def _drawn_metrics(
    probabilities: FloatArray, predicted: IntArray, draws: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Accuracy and macro-F1 of ``draws`` label sets drawn from the rows' probabilities."""
    rng = np.random.default_rng(seed)
    n, k = probabilities.shape
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0
    accuracy, f1 = np.empty(draws), np.empty(draws)
    block = max(1, min(draws, 2_000_000 // max(n * k, 1)))  # bounded memory on big windows
    for start in range(0, draws, block):
        count = min(block, draws - start)
        uniform = rng.random((count, n, 1))
        labels = (uniform > cumulative[None, :, :]).sum(axis=2)  # (count, n)
        accuracy[start : start + count] = (labels == predicted[None, :]).mean(axis=1)
        for d in range(count):
            cells = np.bincount(labels[d] * k + predicted, minlength=k * k).reshape(k, k)
            tp = np.diag(cells).astype(np.float64)
            denominator = cells.sum(axis=0) + cells.sum(axis=1)  # answered + true, per class
            present = denominator > 0
            f1[start + d] = (
                np.mean(2 * tp[present] / denominator[present]) if present.any() else 0.0
            )
    return accuracy, f1


def estimate_quality(
    probabilities: FloatArray,
    predicted: IntArray,
    *,
    seed: int = 0,
    training_prior: FloatArray | None = None,
) -> Estimate:
    """CBPE for one window: calibrated probabilities (rows x labels) and the answers;
    with ``training_prior``, read off the probabilities adjusted to the window's label mix
    (:func:`adjust_to_priors`).

    Raises:
        ValueError: no rows, or shapes that do not match.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    answers = np.asarray(predicted, dtype=np.int64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[0] != answers.size:
        raise ValueError("the estimate needs (rows, labels) probabilities and one answer a row")
    p = p / p.sum(axis=1, keepdims=True)
    if training_prior is not None:
        p, _ = adjust_to_priors(p, training_prior)
    accuracy = float(p[np.arange(len(answers)), answers].mean())
    drawn_accuracy, drawn_f1 = _drawn_metrics(p, answers, ESTIMATE_DRAWS, seed)
    tail = (1 - INTERVAL) / 2 * 100
    a_low, a_high = np.percentile(drawn_accuracy, [tail, 100 - tail])
    f_low, f_high = np.percentile(drawn_f1, [tail, 100 - tail])
    return Estimate(accuracy, float(a_low), float(a_high), expected_macro_f1(p, answers),
                    float(f_low), float(f_high))  # fmt: skip
