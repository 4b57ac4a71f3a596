"""The review queue on the Anonymize page can be acted on (issue 20): filter by reason, mark
reviewed, fix a span (the record is anonymized again, audited), add a term to a list."""

from __future__ import annotations

import json

from desktop_fixtures import run_stage_in_process
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from test_anonymize_page import make_page, pii_project  # noqa: F401 — the fixture

from core.anonymize.config import AnonymizeConfig
from core.jobs.registry import ANONYMIZE
from core.project import Project


def _anonymized(tmp_path):
    project_dir, _ = pii_project(tmp_path, 4, flagged=3)
    run_stage_in_process(project_dir, ANONYMIZE, AnonymizeConfig(pattern_only=True))
    return project_dir


def _audit(project_dir, action):
    with Project.open(project_dir) as project:
        rows = project.store.query("SELECT details FROM audit WHERE action = ?", (action,))
    return [json.loads(row["details"]) for row in rows]


def _select(view, start, end):
    cursor = view.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    view.setTextCursor(cursor)


def test_filter_and_mark_reviewed(qtbot, make_page, tmp_path):  # noqa: F811
    page = make_page(_anonymized(tmp_path))
    results = page.results
    assert results.flagged.count() == 3
    reasons = [results.reason_filter.itemData(i) for i in range(results.reason_filter.count())]
    assert "mostly_identifiers" in reasons
    results.reason_filter.setCurrentIndex(reasons.index("mostly_identifiers"))
    assert results.flagged.count() == 3
    first = results.current_item().record_id
    qtbot.mouseClick(results.actions.mark, Qt.MouseButton.LeftButton)
    assert results.flagged.count() == 2
    assert first not in [i.record_id for i in results._flagged]
    assert _audit(page.context.project_dir, "anonymize.review")[-1] == {
        "record": first, "action": "reviewed"
    }  # fmt: skip


def test_fix_a_span_reanonymizes_the_record_and_is_audited(qtbot, make_page, tmp_path):  # noqa: F811
    page = make_page(_anonymized(tmp_path))
    results = page.results
    item = results.current_item()
    span = item.spans[0]
    _select(results.flagged_view, span["start"] + 1, span["start"] + 1)
    qtbot.mouseClick(results.actions.undo, Qt.MouseButton.LeftButton)
    assert page.banner.level() == "info", page.banner.message()
    with Project.open(page.context.project_dir) as project:
        row = project.store.query(
            "SELECT text, spans FROM anonymized WHERE record_id = ?", (item.record_id,)
        )[0]
    assert len(json.loads(row["spans"])) == len(item.spans) - 1
    assert "@example.com" in row["text"]  # the e-mail is back: the reviewer said so
    assert _audit(page.context.project_dir, "anonymize.review")[-1]["action"] == "remove"
    # A fix is a review: the record left the queue.
    assert item.record_id not in [i.record_id for i in results._flagged]


def test_replacing_a_selection_hides_it(qtbot, make_page, tmp_path, monkeypatch):  # noqa: F811
    import test_anonymize_page

    monkeypatch.setattr(
        test_anonymize_page, "flagged_row",
        lambda i: (f"john.doe{i}@example.com 212-555-{2000 + i:04d} Wardell", {}),
    )  # fmt: skip
    page = make_page(_anonymized(tmp_path))
    results = page.results
    item = results.current_item()
    start = item.text.index("Wardell")
    _select(results.flagged_view, start, start + len("Wardell"))
    results.actions.entity.setCurrentText("PERSON")
    qtbot.mouseClick(results.actions.replace, Qt.MouseButton.LeftButton)
    assert page.banner.level() == "info", page.banner.message()
    with Project.open(page.context.project_dir) as project:
        text = project.store.query(
            "SELECT text FROM anonymized WHERE record_id = ?", (item.record_id,)
        )[0]["text"]
    assert "Wardell" not in text
    assert "<PERSON_1>" in text
    entry = _audit(page.context.project_dir, "anonymize.review")[-1]
    assert entry == {"record": item.record_id, "action": "add", "entity": "PERSON"}


def test_a_selected_term_goes_to_the_allow_list(qtbot, make_page, tmp_path):  # noqa: F811
    page = make_page(_anonymized(tmp_path))
    results = page.results
    _select(results.flagged_view, 0, 3)
    qtbot.mouseClick(results.actions.allow, Qt.MouseButton.LeftButton)
    assert "Run anonymization again" in page.banner.message()
    assert (page.context.project_dir / "anonymize_rules.json").is_file()
    assert _audit(page.context.project_dir, "anonymize.rules_change")[-1]["list"] == "allow"


def test_before_any_run_the_queue_says_to_run_first(make_page, tmp_path):  # noqa: F811
    project_dir, _ = pii_project(tmp_path, 2)
    page = make_page(project_dir)
    assert "Run anonymization first" in page.results.nothing_flagged.text()
