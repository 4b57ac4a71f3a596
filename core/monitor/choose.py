"""Which production requests the teacher labels: uncertainty sampling (DESIGN §11).

The teacher's labels are worth most where the student is unsure and where the inputs are
least like its training data ("Cache & Distil": the teacher labels where the student is
unsure). Each request is ranked on both (its confidence, lowest first; its drift score,
highest first) and taken by the sum of the two ranks. A random slice is held out first,
never trained on, to evaluate the new student on production traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Chosen:
    """Positions (into the eligible requests) to train on and to hold out."""

    train: IntArray
    held_out: IntArray


def uncertainty_order(confidence: FloatArray, drift: FloatArray) -> IntArray:
    """Positions, the least confident and most drifted first (rank sum; ties by position)."""
    from scipy.stats import rankdata

    priority = rankdata(-confidence) + rankdata(drift)
    return np.argsort(-priority, kind="stable").astype(np.int64)


def choose(
    confidence: FloatArray,
    drift: FloatArray,
    *,
    budget: int,
    held_out: int,
    sampling: str = "uncertainty",
    seed: int = 0,
) -> Chosen:
    """Hold out ``held_out`` requests at random, then pick up to ``budget`` of the rest."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(confidence))
    slice_ = np.sort(order[:held_out])
    rest = order[held_out:]
    if sampling == "random":
        picked = rest[:budget]
    else:
        ranked = uncertainty_order(confidence[rest], drift[rest])
        picked = rest[ranked[:budget]]
    return Chosen(np.sort(picked).astype(np.int64), slice_.astype(np.int64))
