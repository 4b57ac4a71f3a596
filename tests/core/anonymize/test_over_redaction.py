"""Over-redaction (issue 20): words that identify nobody stay, identifiers are still found,
and the leakage report measures precision on labelled spans."""

from __future__ import annotations

import pytest

from core.anonymize.leakage import LabelledSample, LeakageReport, score_sample


@pytest.mark.parametrize(
    "text",
    [
        "EXTREMELY RUDE! The crew was AWFUL.",
        "The flight was late this month and a few months ago too.",
        "I waited 45 minutes, then two hours more. BEST CREW EVER",
        "Users were told nothing. Kids cried at the gate.",
    ],
)
def test_everyday_words_are_not_replaced(find, text):
    assert find(text) == []


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("Patient JOHN SMITH was seen today.", "JOHN SMITH", "PERSON"),
        ("She moved to Chicago on March 3, 2021.", "March 3, 2021", "DATE_TIME"),
        ("See you on Monday, said Mahler.", "Mahler", "PERSON"),
        ("He flew from Denver last week.", "Denver", "LOCATION"),
    ],
)
def test_identifiers_are_still_found(find, text, value, entity):
    found = [(text[f.start : f.end], f.entity) for f in find(text)]
    assert (value, entity) in found


def test_precision_counts_replacements_outside_marked_spans():
    report = LeakageReport()
    sample = LabelledSample("Ann was EXTREMELY RUDE", ((0, 3, "PERSON"),))
    spans = [
        {"source_start": 0, "source_end": 3, "operator": "replace", "entity_type": "PERSON"},
        {"source_start": 18, "source_end": 22, "operator": "replace", "entity_type": "LOCATION"},
        {"source_start": 8, "source_end": 17, "operator": "keep", "entity_type": "PERSON"},
    ]
    score_sample(report, sample, "<PERSON> was EXTREMELY <LOCATION>", spans, {"PERSON"},
                 safe_harbor=True)  # fmt: skip
    assert (report.replaced, report.false_replaced) == (2, {"LOCATION": 1})
    assert report.precision == 0.5
    assert report.to_dict()["precision"] == 0.5
