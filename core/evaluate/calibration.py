"""Temperature scaling (Guo et al., 2017): one scalar T fitted on the validation split.

The negative log-likelihood of ``softmax(z / T)`` is convex in ``1 / T``, hence unimodal in
``log T``; a golden-section search over ``log T`` finds its minimum without an optimiser
library and cannot wander off to a negative temperature.

A temperature is only *kept* (applied, saved, shipped) when it improves the NLL of rows it
was not fitted on: :func:`choose_temperature` cross-validates the fit over folds of the
validation split, and keeps T = 1 with the reason when the held-out NLL does not improve
or the split is too small to tell. A temperature that makes calibration worse never ships.
"""

from __future__ import annotations

import dataclasses
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


FOLDS = 5


@dataclass(frozen=True, slots=True)
class TemperatureFit:
    """The temperature applied and the validation NLL before (T = 1) and after.

    Attributes:
        temperature: the temperature applied (1.0 when none was kept).
        nll_before: mean validation NLL at T = 1.
        nll_after: mean validation NLL at ``temperature``.
        n: validation rows.
        fitted: the temperature the fit found on every row (before the held-out check).
        held_out_before: mean NLL at T = 1 of the rows each fold held out (None: no check).
        held_out_after: mean held-out NLL at each fold's own fitted temperature.
        reason: why T = 1 was kept, or how the temperature earned its place.
    """

    temperature: float
    nll_before: float
    nll_after: float
    n: int
    fitted: float | None = None
    held_out_before: float | None = None
    held_out_after: float | None = None
    reason: str = ""

    @property
    def kept(self) -> bool:
        """Whether a temperature other than 1 is applied."""
        return self.temperature != 1.0


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


def choose_temperature(
    logits: FloatArray, y_true: IntArray, *, min_rows: int, folds: int = FOLDS, seed: int = 0
) -> TemperatureFit:
    """The temperature to apply: the fit on every row, if fits held out improve the NLL.

    Each of ``folds`` folds fits a temperature on the other rows and scores its own rows at
    that temperature and at T = 1; the fit on every row is kept only when the held-out NLL
    summed over the folds is lower with the fitted temperatures.

    Raises:
        ValueError: no rows, or shapes that do not match.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    full = fit_temperature(z, y)
    at_one = TemperatureFit(1.0, full.nll_before, full.nll_before, full.n, full.temperature)
    if full.n < max(min_rows, 2):
        reason = (
            f"no temperature: the validation split has {full.n:,} labelled rows and a "
            f"temperature is fitted only on at least {min_rows:,}"
        )
        return dataclasses.replace(at_one, reason=reason)
    before, after = _held_out(z, y, folds, seed)
    checked = dataclasses.replace(at_one, held_out_before=before, held_out_after=after)
    if full.temperature == 1.0:
        return dataclasses.replace(checked, reason="no temperature: T = 1 already fits best")
    if after >= before:
        reason = (
            f"no temperature: T = {full.temperature:.3f} fitted on the validation split made "
            f"the NLL of held-out rows worse ({before:.4f} → {after:.4f}, {folds}-fold "
            "cross-validation), so T = 1 is kept"
        )
        return dataclasses.replace(checked, reason=reason)
    reason = (
        f"T = {full.temperature:.3f} lowers the NLL of held-out validation rows "
        f"({before:.4f} → {after:.4f}, {folds}-fold cross-validation)"
    )
    return dataclasses.replace(
        checked, temperature=full.temperature, nll_after=full.nll_after, reason=reason
    )


def _held_out(z: FloatArray, y: IntArray, folds: int, seed: int) -> tuple[float, float]:
    """Mean held-out NLL at T = 1 and at each fold's fitted temperature."""
    order = np.random.default_rng(seed).permutation(y.size)
    before = after = 0.0
    for held in np.array_split(order, min(folds, y.size)):
        fitted = np.setdiff1d(order, held)
        temperature = fit_temperature(z[fitted], y[fitted]).temperature
        before += nll(z[held], y[held], 1.0) * held.size
        after += nll(z[held], y[held], temperature) * held.size
    return before / y.size, after / y.size


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
        "fitted": fit.fitted,
        "held_out_nll_before": fit.held_out_before,
        "held_out_nll_after": fit.held_out_after,
        "reason": fit.reason,
        "evaluate_run": run_id,
    }
    scratch = folder / f".{CALIBRATION_FILE}.tmp"
    fd = os.open(scratch, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
    os.replace(scratch, target)
    return target
