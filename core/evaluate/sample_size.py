"""How many rows a verdict needs: the sample-size rules, in one place.

The numbers are the seed's: a test split of at least 500 rows (below that a retention of
0.95 has an interval several points wide), an edge-case set of 100 to 200 rows, and a
validation split large enough to fit a temperature without fitting noise. They are
warnings, not refusals: the import and the evaluation say them, the evaluation's stage
state turns to "needs attention", and below :attr:`SampleSizeRules.validation` no
temperature is fitted at all.

Light on purpose (no numpy): the import reads it while the window opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SampleSizeRules:
    """The least rows each split needs for the evaluation's figures to mean something.

    Attributes:
        test: rows of the test split (the verdict's set).
        edge_min: rows of the edge-case set, when there is one.
        edge_max: the edge-case set's useful size; more is not wrong, only slower to label.
        validation: rows of the validation split to fit a temperature on (fewer: none).
    """

    test: int = 500
    edge_min: int = 100
    edge_max: int = 200
    validation: int = 100


RULES = SampleSizeRules()


def sample_size_warnings(
    counts: Mapping[str, int], rules: SampleSizeRules = RULES, *, task: str = "classification"
) -> dict[str, str]:
    """One plain sentence per split that is too small for the rules, by split.

    Args:
        counts: rows per split (``test``, ``validation``, ``edge``); a split left out has 0.
        rules: the thresholds.
        task: ``classification`` or ``generation`` (no temperature for generation).
    """
    out = {}
    test, edge, validation = (int(counts.get(s, 0)) for s in ("test", "edge", "validation"))
    if test < rules.test:
        out["test"] = (
            f"the test split has {test:,} rows; a verdict needs at least {rules.test:,} "
            "(with fewer, the interval around every figure is too wide to trust)"
        )
    if 0 < edge < rules.edge_min:
        out["edge"] = (
            f"the edge-case set has {edge:,} rows; {rules.edge_min:,} to {rules.edge_max:,} "
            "are needed to judge the edge cases"
        )
    if task == "classification" and validation < rules.validation:
        out["validation"] = (
            f"the validation split has {validation:,} rows; a temperature is fitted only on "
            f"at least {rules.validation:,}, so the probabilities stay as the model gives them"
        )
    return out
