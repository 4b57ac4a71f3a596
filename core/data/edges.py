"""The edge-case set: records held out of train/validation/test, to probe the student.

Chosen before the split, over the dataset's records, in SQL (:mod:`core.store.splits`):

1. **user_flag** — every row whose flag column is truthy (1/true/yes/y/x). Always all of them.
2. Automatic reasons, among the rows not flagged by the user:

   - **rare_label** — a label with fewer than max(10, 2% of the dataset's rows) rows gives
     up a third of them (rounded down, so at least 1 from a class of 3, none from 1 or 2);
     classification datasets with a label column only.
   - **longest** / **shortest** — the top and bottom 1% by character length (at least 1
     and at most 50 each), only for datasets of at least 50 rows; among rows of equal
     length the text hash decides (not the seed, so the length query stays one sort).
   - **non_ascii** — rows where more than 30% of the characters are not ASCII.

   A row may have several reasons; they are stored comma-joined in ``edge_reason``.
   Automatic edge cases are capped at 5% of the dataset (at least 1), taken in priority
   order rare_label, then longest/shortest, then non_ascii, ties broken by the seeded
   shuffle key. No class ever gives up more than a third of its unflagged rows to them,
   so every class keeps rows to train on.

The choice depends only on the rows and the seed, so it is deterministic.
"""

from __future__ import annotations

from core.store import records, splits
from core.store.db import Store
from core.store.splits import EdgeQuota

NON_ASCII_SHARE = 0.3
AUTOMATIC_CAP_SHARE = 0.05
LENGTH_EXTREMES_MIN_ROWS = 50
LENGTH_EXTREMES_SHARE = 0.01
LENGTH_EXTREMES_MAX = 50
RARE_MIN_ROWS = 10
RARE_SHARE = 0.02
# Reason -> priority when the cap binds (lower first).
REASONS = {"rare_label": 1, "longest": 2, "shortest": 2, "non_ascii": 3}


def select_edge_cases(store: Store, dataset_id: int, *, seed: int, stratify: bool) -> None:
    """Move the dataset's edge cases to ``split = 'edge'`` with their ``edge_reason``.

    Args:
        store: the project's store, inside the caller's transaction.
        dataset_id: the dataset, whose records are all still ``unassigned``.
        seed: the shuffle seed, for ties and partial picks.
        stratify: the labels are classes (rare labels count; classes keep their rows).
    """
    n = records.count_records(store, dataset_id)
    extremes = 0
    if n >= LENGTH_EXTREMES_MIN_ROWS:
        extremes = min(LENGTH_EXTREMES_MAX, max(1, round(LENGTH_EXTREMES_SHARE * n)))
    quota = EdgeQuota(
        priorities=REASONS,
        rare_below=max(RARE_MIN_ROWS, RARE_SHARE * n) if stratify else None,
        extremes=extremes,
        non_ascii_above=NON_ASCII_SHARE,
        cap=max(1, int(AUTOMATIC_CAP_SHARE * n)),
    )
    splits.select_edge_cases(store, dataset_id, quota, seed=seed, stratify=stratify)
