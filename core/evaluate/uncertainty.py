"""Bootstrap confidence intervals for the evaluation's figures (``scipy.stats.bootstrap``).

Every interval resamples the *rows* of one set with replacement and recomputes the figure
on each resample; a figure that compares two models (retention, agreement, a difference)
is computed on the same resampled rows for both, so the pairing is kept. The resampling
is seeded, so an evaluation gives the same intervals every time it runs.

Percentile intervals, shifted by the bootstrap's estimate of the figure's bias (the mean
over resamples minus the figure). ECE needs the shift: resampling repeats rows, which
empties confidence bins and inflates ECE, so the plain percentile interval of a
well-calibrated model can lie wholly above its ECE. BCa would correct for that too, but it
breaks down (infinite bias correction) on exactly such one-sided distributions and on the
tiny or degenerate sets (every row right) that the sample-size warnings exist for. A figure
that cannot be negative keeps a lower bound of at least 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the gate and the config import this
    from core.evaluate.metrics import IntArray

RESAMPLES = 1_000
CONFIDENCE = 0.95
SEED = 0
# Fewer rows than this and resampling cannot stand in for new data: three rows that are all
# right resample to a zero-width interval at 1.0, which would read as certainty.
MIN_ROWS = 20

Statistic = Callable[["IntArray"], float]


@dataclass(frozen=True, slots=True)
class Interval:
    """A 95% bootstrap interval around one figure."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, digits: int = 3) -> str:
        """``0.912 to 0.961`` for tables and sentences."""
        return f"{self.low:.{digits}f} to {self.high:.{digits}f}"


def bootstrap(rows: int, statistic: Statistic, *, seed: int = SEED) -> Interval | None:
    """The percentile interval of ``statistic`` over resamples of ``rows`` row indices.

    ``statistic`` receives an array of row indices (with repeats) and returns the figure
    on those rows; NaN where it is undefined on a resample (such resamples are dropped).

    Returns:
        None for fewer than :data:`MIN_ROWS` rows, or when the figure is undefined on most
        resamples.
    """
    if rows < MIN_ROWS:
        return None
    import numpy as np
    from scipy.stats import bootstrap as scipy_bootstrap

    def safe(index: IntArray) -> float:
        value = statistic(np.asarray(index, dtype=np.int64))
        return float(value) if value is not None and np.isfinite(value) else np.nan

    with warnings.catch_warnings():
        # A constant figure (every resample the same) is a valid, zero-width interval.
        warnings.simplefilter("ignore")
        result = scipy_bootstrap(
            (np.arange(rows),),
            safe,
            n_resamples=RESAMPLES,
            confidence_level=CONFIDENCE,
            vectorized=False,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    distribution = np.asarray(result.bootstrap_distribution, dtype=np.float64)
    if np.isnan(distribution).mean() > 0.5:
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.nanpercentile(distribution, [tail, 100 - tail])
    figure = safe(np.arange(rows))
    bias = float(np.nanmean(distribution)) - figure if np.isfinite(figure) else 0.0
    low, high = low - bias, high - bias
    if np.nanmin(distribution) >= 0:
        low = max(low, 0.0)
    return Interval(float(low), float(high))
