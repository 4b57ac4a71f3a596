"""Temperature scaling (Guo et al., 2017): one scalar T fitted on the validation split.

The negative log-likelihood of ``softmax(z / T)`` is convex in ``1 / T``, hence unimodal in
``log T``; a golden-section search over ``log T`` finds its minimum without an optimiser
library and cannot wander off to a negative temperature.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.evaluate.metrics import FloatArray, IntArray

CALIBRATION_FILE = "calibration.json"
T_MIN, T_MAX = 0.05, 20.0
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True, slots=True)
class TemperatureFit:
    """A fitted temperature and the validation NLL before (T = 1) and after."""

    temperature: float
    nll_before: float
    nll_after: float
    n: int


def nll(logits: FloatArray, y_true: IntArray, temperature: float) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    top = z.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    picked = z[np.arange(z.shape[0]), np.asarray(y_true, dtype=np.int64)]
    return float(np.mean(log_norm - picked))


def fit_temperature(logits: FloatArray, y_true: IntArray, *, tol: float = 1e-7) -> TemperatureFit:
    """The temperature in [0.05, 20] that minimises the validation NLL.

    Raises:
        ValueError: no rows, or shapes that do not match.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[0] != y.size:
        raise ValueError("temperature fitting needs (rows, classes) logits and one label per row")
    lo, hi = math.log(T_MIN), math.log(T_MAX)
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = nll(z, y, math.exp(a)), nll(z, y, math.exp(b))
    while hi - lo > tol:
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = nll(z, y, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = nll(z, y, math.exp(b))
    best = math.exp((lo + hi) / 2)
    before = nll(z, y, 1.0)
    after = nll(z, y, best)
    if before <= after:  # flat or already calibrated: keep the model as it is
        best, after = 1.0, before
    return TemperatureFit(best, before, after, int(y.size))


def save_calibration(folder: Path, fit: TemperatureFit, *, run_id: str | None) -> Path:
    """Write ``calibration.json`` into ``folder`` atomically (owner-only) and return it.

    Raises:
        OSError: the folder cannot be written.
    """
    target = folder / CALIBRATION_FILE
    payload = {
        "temperature": fit.temperature,
        "fitted_on": "validation",
        "n": fit.n,
        "nll_before": fit.nll_before,
        "nll_after": fit.nll_after,
        "evaluate_run": run_id,
    }
    scratch = folder / f".{CALIBRATION_FILE}.tmp"
    fd = os.open(scratch, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
    os.replace(scratch, target)
    return target
