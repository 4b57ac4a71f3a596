"""The seeded, stratified train/validation/test split, computed inside SQLite.

Each record's place in the shuffle is a keyed hash of its text hash and the seed, so the
same rows and seed give the same split whatever order the file lists them in, and the
split of a million rows never needs them in Python memory: a window query
(:mod:`core.store.splits`) ranks the rows of each label by that key, and the class sizes
(computed here, one row per label) turn ranks into splits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.errors import UserError
from core.store import splits
from core.store.db import Store

SPLITS = ("train", "validation", "test")


def validate_fractions(split: Sequence[float]) -> tuple[float, float, float]:
    """The train, validation and test fractions, checked.

    Raises:
        UserError: not three finite non-negative numbers summing to 1 with train above 0.
    """
    values = tuple(split)
    hint = "for example --split 0.8,0.1,0.1 (train, validation, test)"
    if len(values) != 3:
        raise UserError(f"the split needs three fractions, got {len(values)}", hint)
    try:
        train, validation, test = (float(value) for value in values)
    except (TypeError, ValueError):
        raise UserError("the split fractions must be numbers", hint) from None
    if not all(math.isfinite(v) and v >= 0 for v in (train, validation, test)):
        raise UserError("the split fractions must not be negative", hint)
    if abs(train + validation + test - 1.0) > 1e-6:
        raise UserError(
            f"the split fractions must sum to 1, got {train + validation + test:g}", hint
        )
    if train <= 0:
        raise UserError("the training fraction must be above 0", hint)
    return train, validation, test


def split_sizes(n: int, validation: float, test: float) -> tuple[int, int, int]:
    """How many of ``n`` rows of one class go to (train, validation, test).

    Half-up rounding of ``n * fraction``; a class of at least 3 rows gets at least one row
    in validation and in test when their fractions are above 0; train always keeps at
    least one row.
    """
    n_test = math.floor(n * test + 0.5)
    n_validation = math.floor(n * validation + 0.5)
    if n >= 3:
        n_test = max(n_test, 1 if test > 0 else 0)
        n_validation = max(n_validation, 1 if validation > 0 else 0)
    keep_for_train = 1 if n >= 1 else 0
    while n_test + n_validation > n - keep_for_train:
        if n_validation >= n_test and n_validation > 0:
            n_validation -= 1
        else:
            n_test -= 1
    return n - n_validation - n_test, n_validation, n_test


def assign_splits(
    store: Store,
    dataset_id: int,
    fractions: tuple[float, float, float],
    seed: int,
    *,
    stratify: bool,
) -> None:
    """Give every still-unassigned record of the dataset a train/validation/test split
    (:func:`core.store.splits.assign_splits`), ``fractions`` (validated) of each label when
    ``stratify`` (classification with labels), else of the dataset as one group."""
    held_out = []
    for label, n in splits.unassigned_classes(store, dataset_id, stratify=stratify):
        _, n_validation, n_test = split_sizes(n, fractions[1], fractions[2])
        held_out.append((label, n_test, n_test + n_validation))
    splits.assign_splits(store, dataset_id, held_out, seed, stratify=stratify)
