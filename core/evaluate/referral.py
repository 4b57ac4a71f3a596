"""The confidence below which a case goes to a person: the model answers alone only where,
on the test set, its answers were at least as accurate as the target.

The target is the teacher's accuracy against the human labels on the same rows (the model
answers alone where it does as well as the process it replaces); where the teacher is the
reference, it is the floor's retention. The threshold is the lowest calibrated confidence
at which the test rows at or above it reach the target.
"""

from __future__ import annotations

import numpy as np

from core.evaluate.config import Referral
from core.evaluate.metrics import FloatArray, IntArray


def referral(probabilities: FloatArray, truth: IntArray, target: float, basis: str) -> Referral:
    """The referral threshold of one model's calibrated probabilities on the test rows.

    Raises:
        ValueError: no rows, or shapes that do not match.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    if probs.ndim != 2 or probs.shape[0] != truth.size or truth.size == 0:
        raise ValueError("referral needs (rows, classes) probabilities and one label per row")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == truth).astype(np.float64)
    order = np.argsort(-confidence, kind="stable")
    sorted_conf = confidence[order]
    accuracy = np.cumsum(correct[order]) / np.arange(1, truth.size + 1)
    # A threshold keeps every row of equal confidence: only the last of a tie is a cut.
    cuts = np.append(sorted_conf[1:] < sorted_conf[:-1], True)
    reaching = np.flatnonzero(cuts & (accuracy >= target - 1e-12))
    if reaching.size == 0:
        return Referral(None, target, basis, 0.0, float(accuracy[0]), int(truth.size))
    last = int(reaching[-1])
    return Referral(
        threshold=float(sorted_conf[last]),
        target=target,
        basis=basis,
        coverage=(last + 1) / truth.size,
        accuracy=float(accuracy[last]),
        rows=int(truth.size),
    )
