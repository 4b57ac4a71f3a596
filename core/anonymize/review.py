"""What a reviewer looks at after a run: counts, flagged records, marked samples.

Everything is read from the ``anonymized`` table: anonymized text and span offsets. The
original values are never read here, so nothing this module returns can leak them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from core.project import Project

MARK_OPEN, MARK_CLOSE = "⟦", "⟧"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One anonymized record with its replaced spans (offsets into ``text``)."""

    record_id: int
    text: str
    spans: tuple[dict[str, Any], ...]
    needs_review: bool
    reasons: tuple[str, ...]


def review_summary(project: Project) -> dict[str, Any]:
    """Per-entity counts, flagged records and reasons over the whole project."""
    entities: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    rows = project.store.conn.execute(
        "SELECT entity_counts, review_reasons, needs_review FROM anonymized"
    )
    records = flagged = 0
    for counts, found_reasons, needs_review in rows:
        records += 1
        flagged += int(needs_review)
        entities.update(json.loads(counts))
        reasons.update(json.loads(found_reasons))
    return {
        "records_anonymized": records,
        "needs_review": flagged,
        "entity_counts": dict(sorted(entities.items())),
        "review_reasons": dict(sorted(reasons.items())),
    }


def review_sample(
    project: Project, count: int = 10, *, needs_review_only: bool = False, seed: int = 0
) -> list[ReviewItem]:
    """A reproducible random sample of anonymized records, flagged ones only if asked."""
    where = "WHERE needs_review = 1" if needs_review_only else ""
    ids = [
        row[0]
        for row in project.store.conn.execute(
            f"SELECT record_id FROM anonymized {where} ORDER BY record_id"
        )
    ]
    chosen = sorted(random.Random(seed).sample(ids, min(count, len(ids))))
    items = []
    for record_id in chosen:
        text, spans, needs_review, reasons = project.store.conn.execute(
            "SELECT text, spans, needs_review, review_reasons FROM anonymized WHERE record_id = ?",
            (record_id,),
        ).fetchone()
        items.append(
            ReviewItem(
                record_id,
                text,
                tuple(json.loads(spans)),
                bool(needs_review),
                tuple(json.loads(reasons)),
            )
        )
    return items


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
