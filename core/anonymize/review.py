"""What a reviewer looks at after a run: flagged records and marked samples.

Everything is read from the ``anonymized`` table: anonymized text and span offsets. The
original values are never read here, so nothing this module returns can leak them.
"""

from __future__ import annotations

import random

from core.project import Project
from core.store import anonymized
from core.store.anonymized import ReviewItem

MARK_OPEN, MARK_CLOSE = "⟦", "⟧"


def review_sample(
    project: Project, count: int = 10, *, needs_review_only: bool = False, seed: int = 0
) -> list[ReviewItem]:
    """A reproducible random sample of anonymized records, flagged ones only if asked."""
    ids = anonymized.anonymized_ids(project.store, needs_review_only=needs_review_only)
    chosen = sorted(random.Random(seed).sample(ids, min(count, len(ids))))
    return anonymized.review_items(project.store, chosen)


def marked_text(item: ReviewItem) -> str:
    """The anonymized text with each replaced span shown as ⟦TYPE: replacement⟧."""
    pieces, cursor = [], 0
    for span in item.spans:
        pieces.append(item.text[cursor : span["start"]])
        pieces.append(
            f"{MARK_OPEN}{span['entity_type']}: "
            f"{item.text[span['start'] : span['end']]}{MARK_CLOSE}"
        )
        cursor = span["end"]
    pieces.append(item.text[cursor:])
    return "".join(pieces)
