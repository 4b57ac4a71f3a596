"""Bounded reads of the anonymize results: SQL-summed counts and pages of records by id."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from core.anonymize.review import anonymize_overview, anonymized_records


def review_summary(project):
    """The counts summed in Python, row by row: the oracle for the SQL sums."""
    entities: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    rows = project.store.conn.execute(
        "SELECT entity_counts, review_reasons, needs_review FROM anonymized"
    ).fetchall()
    for counts, found_reasons, _ in rows:
        entities.update(json.loads(counts))
        reasons.update(json.loads(found_reasons))
    return {
        "records_anonymized": len(rows),
        "needs_review": sum(row[2] for row in rows),
        "entity_counts": dict(sorted(entities.items())),
        "review_reasons": dict(sorted(reasons.items())),
    }


def _store(project, rows):
    """Insert records and their anonymized rows: (text, entity counts, reasons, spans)."""
    with project.store.transaction() as conn:
        dataset = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) "
            "VALUES ('d', 'f', 'x', 0, 'csv', 0, 0, '{}', '{}', 'now')"
        ).lastrowid
        for i, (text, counts, reasons, spans) in enumerate(rows):
            record = conn.execute(
                "INSERT INTO records (dataset_id, source_row, split, text, text_sha256) "
                "VALUES (?, ?, 'train', ?, ?)",
                (dataset, i + 1, f"raw {i}", hashlib.sha256(f"{i}".encode()).digest()),
            ).lastrowid
            if text is None:
                continue
            conn.execute(
                "INSERT INTO anonymized (record_id, text, entity_counts, spans, config_hash, "
                "needs_review, review_reasons, created_at) VALUES (?, ?, ?, ?, 'h', ?, ?, 'now')",
                (
                    record,
                    text,
                    json.dumps(counts),
                    json.dumps(spans),
                    int(bool(set(reasons) - {"chunked"})),
                    json.dumps(reasons),
                ),
            )


SPAN = {"start": 5, "end": 19, "entity_type": "PHONE_NUMBER", "operator": "replace"}
ROWS = [
    ("call <PHONE_NUMBER_1>", {"PHONE_NUMBER": 1}, [], [SPAN]),
    ("mail <EMAIL_ADDRESS_1>", {"EMAIL_ADDRESS": 1}, ["low_confidence"], []),
    (
        "both <PHONE_NUMBER_1> <EMAIL_ADDRESS_1>",
        {"PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1},
        ["chunked"],
        [SPAN],
    ),
    ("nothing", {}, ["non_english", "low_confidence"], []),
    (None, {}, [], []),  # a record not anonymized yet
]


def test_overview_sums_like_the_python_review_summary(project):
    _store(project, ROWS)
    overview = anonymize_overview(project)
    slow = review_summary(project)
    assert overview.records_total == 5
    assert overview.records_anonymized == slow["records_anonymized"] == 4
    assert overview.needs_review == slow["needs_review"] == 2
    assert (
        overview.entity_counts == slow["entity_counts"] == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 2}
    )
    assert overview.review_reasons == slow["review_reasons"]


def test_records_come_a_page_at_a_time_and_flagged_only_on_request(project):
    _store(project, ROWS)
    first = anonymized_records(project, 2)
    assert [item.record_id for item in first] == [1, 2]
    assert first[0].spans[0]["entity_type"] == "PHONE_NUMBER"
    following = anonymized_records(project, 10, after_id=first[-1].record_id)
    assert [item.record_id for item in following] == [3, 4]
    flagged = anonymized_records(project, 10, needs_review_only=True)
    assert [(item.record_id, item.reasons) for item in flagged] == [
        (2, ("low_confidence",)),
        (4, ("non_english", "low_confidence")),
    ]
    assert all("raw" not in item.text for item in first + following)


def test_an_empty_project_has_nothing_to_show(project):
    overview = anonymize_overview(project)
    assert (overview.records_total, overview.records_anonymized, overview.entity_counts) == (
        0,
        0,
        {},
    )
    assert anonymized_records(project, 5) == []


def test_an_unchanged_store_gives_back_the_earlier_overview(project):
    _store(project, ROWS[:2])
    first = anonymize_overview(project)
    assert anonymize_overview(project, first) is first
    with project.store.transaction() as conn:
        conn.execute("UPDATE anonymized SET entity_counts = '{}', created_at = 'later'")
    changed = anonymize_overview(project, first)
    assert changed is not first
    assert changed.entity_counts == {}
