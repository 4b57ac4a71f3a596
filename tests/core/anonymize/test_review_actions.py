"""Acting on the review queue (issue 20): reviewed, span fixes, rules from a record, filter."""

from __future__ import annotations

import json

import pytest

from core.anonymize.config import AnonymizeConfig
from core.anonymize.review_actions import (
    add_replacement,
    add_to_rules,
    mark_reviewed,
    remove_replacement,
    review_queue,
)
from core.anonymize.rules import RULES_FILE, load_rules
from core.errors import AnonymizeError
from core.jobs.execute import run_stage
from core.jobs.registry import ANONYMIZE
from core.reporter import NullReporter

from .conftest import add_records, anonymized

TEXTS = [
    "Call Maria Gonzalez on 555-201-3344 about the refund, said the agent Bob.",
    "Le patient est arrivé aux urgences avec une douleur thoracique et il va mieux.",
]


def _audit(project, action):
    rows = project.store.query("SELECT details FROM audit WHERE action = ?", (action,))
    return [json.loads(row["details"]) for row in rows]


@pytest.fixture
def done(project):
    ids = add_records(project, TEXTS)
    run_stage(project, ANONYMIZE, AnonymizeConfig(processes=1), reporter=NullReporter())
    return project, ids


def test_mark_reviewed_takes_a_record_off_the_queue(done):
    project, (_, french) = done
    assert [i.record_id for i in review_queue(project, 10, reason="non_english")] == [french]
    mark_reviewed(project, french)
    assert french not in [i.record_id for i in review_queue(project, 10)]
    assert "reviewed" in json.loads(anonymized(project, french)["review_reasons"])
    assert _audit(project, "anonymize.review")[-1] == {"record": french, "action": "reviewed"}


def test_removing_a_replacement_puts_the_word_back_and_is_audited(done):
    project, (first, _) = done
    row = anonymized(project, first)
    spans = json.loads(row["spans"])
    bob = next(i for i, s in enumerate(spans) if s["source_start"] == TEXTS[0].index("Bob"))
    item = remove_replacement(project, first, bob)
    assert item.text.endswith("the agent Bob.")
    assert len(item.spans) == len(spans) - 1
    assert _audit(project, "anonymize.review")[-1]["action"] == "remove"
    # A re-run under other settings keeps the reviewer's fix.
    run_stage(project, ANONYMIZE, AnonymizeConfig(processes=1, score_threshold=0.4),
              reporter=NullReporter())  # fmt: skip
    assert anonymized(project, first)["text"].endswith("the agent Bob.")


def test_adding_a_replacement_hides_the_selected_words(done):
    project, (first, _) = done
    text = anonymized(project, first)["text"]
    start = text.index("refund")
    item = add_replacement(project, first, start, start + len("refund"), "ACCOUNT_NUMBER")
    assert "refund" not in item.text
    assert "<ACCOUNT_NUMBER" in item.text
    entry = _audit(project, "anonymize.review")[-1]
    assert entry == {"record": first, "action": "add", "entity": "ACCOUNT_NUMBER"}
    assert "refund" not in json.dumps(_audit(project, "anonymize.review"))
    span = item.spans[0]
    with pytest.raises(AnonymizeError, match="overlaps"):
        add_replacement(project, first, span["start"], span["end"], "PERSON")


def test_terms_go_to_the_rules_file_and_the_audit_holds_counts_only(done):
    project, _ = done
    add_to_rules(project, "Bob", allow=True)
    add_to_rules(project, "Ward 7", allow=False, entity="LOCATION")
    rules = load_rules(project.path / RULES_FILE)
    assert rules.allow_list == ("Bob",)
    assert dict(rules.deny_lists) == {"LOCATION": ("Ward 7",)}
    entries = _audit(project, "anonymize.rules_change")
    assert [e["list"] for e in entries] == ["allow", "deny"]
    assert "Ward" not in json.dumps(entries)
    assert "Bob" not in json.dumps(entries)
