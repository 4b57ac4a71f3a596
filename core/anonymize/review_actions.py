"""Acting on the review queue (issue 20): mark a record reviewed, fix a span, add a term to
the project's deny- or allow-list, filter the queue by reason.

A span fix re-anonymizes that one record from its original text with the stored findings,
minus a removed replacement or plus an added one (no detector runs: it takes milliseconds).
The fix is kept in the ``anonymize.review_edits`` setting, as offsets into the original
text, so a later anonymize run under other settings applies it again. Audit rows name the
record, the action and the entity type: never a value, never a term of a list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.anonymize.detect import Finding
from core.anonymize.rules import RULES_FILE
from core.errors import AnonymizeError
from core.project import Project
from core.store import anonymized, records
from core.store.anonymized import AnonymizedRow, ReviewItem
from core.store.settings import read_setting, write_settings

REVIEWED = "reviewed"
EDITS_KEY = "anonymize.review_edits"
Edit = dict[str, list[list[Any]]]  # {"add": [[start, end, entity]], "remove": [[start, end]]}


def review_queue(
    project: Project, count: int, *, reason: str | None = None, after_id: int = 0
) -> list[ReviewItem]:
    """Up to ``count`` records that still need review (flagged with ``reason``, if given)."""
    return anonymized.review_page(
        project.store, count, after_id=after_id, needs_review_only=True, reason=reason
    )


def mark_reviewed(project: Project, record_id: int) -> ReviewItem:
    """Take a record off the review queue (audited).

    Raises:
        AnonymizeError: the record has no anonymized form.
    """
    item = _item(project, record_id)
    reasons = sorted({*item.reasons, REVIEWED})
    with project.store.transaction() as conn:
        conn.execute(
            "UPDATE anonymized SET needs_review = 0, review_reasons = ? WHERE record_id = ?",
            (json.dumps(reasons), record_id),
        )
        project.audit("anonymize.review", {"record": record_id, "action": "reviewed"})
    return _item(project, record_id)


def remove_replacement(project: Project, record_id: int, span_index: int) -> ReviewItem:
    """Put the original text back for one replaced span ("this is not an identifier"),
    re-anonymize the record and mark it reviewed (audited with the entity type).

    Raises:
        AnonymizeError: no such record or span.
    """
    item = _item(project, record_id)
    if not 0 <= span_index < len(item.spans):
        raise AnonymizeError(f"record {record_id} has no replacement number {span_index + 1}")
    span = item.spans[span_index]
    edit = _edit(project, record_id)
    edit["remove"].append([span["source_start"], span["source_end"]])
    return _reanonymize(project, record_id, edit, "remove", str(span["entity_type"]))


def add_replacement(
    project: Project, record_id: int, start: int, end: int, entity: str
) -> ReviewItem:
    """Replace the text at ``start:end`` of the anonymized record (what the reviewer
    selected) as ``entity``, re-anonymize the record and mark it reviewed (audited).

    Raises:
        AnonymizeError: no such record, an empty selection or one over a replacement.
    """
    item = _item(project, record_id)
    if not item.text[start:end].strip() or not 0 <= start < end <= len(item.text):
        raise AnonymizeError("select the words to replace first")
    shift = 0
    for span in item.spans:
        if span["start"] < end and start < span["end"]:
            raise AnonymizeError(
                "the selection overlaps a replacement", "select only text that is still visible"
            )
        if span["end"] <= start:
            shift += (span["source_end"] - span["source_start"]) - (span["end"] - span["start"])
    edit = _edit(project, record_id)
    edit["add"].append([start + shift, end + shift, entity])
    return _reanonymize(project, record_id, edit, "add", entity)


def apply_edits(findings: tuple[Finding, ...], edit: Edit | None) -> tuple[Finding, ...]:
    """``findings`` with a reviewer's removals taken out and additions put in (by offsets
    into the original text), in order and without overlaps."""
    from core.anonymize.detect import merge_findings

    if not edit:
        return findings
    removed = {(s, e) for s, e in edit.get("remove", [])}
    kept = [f for f in findings if (f.start, f.end) not in removed]
    kept += [Finding(int(s), int(e), str(entity), 1.0) for s, e, entity in edit.get("add", [])]
    return tuple(merge_findings(kept))


def review_edits(project: Project) -> dict[int, Edit]:
    """Every record's stored fixes, by record id."""
    stored = read_setting(project.store, EDITS_KEY, {}) or {}
    return {int(k): v for k, v in stored.items()}


def add_to_rules(project: Project, term: str, *, allow: bool, entity: str = "PERSON") -> Path:
    """Add ``term`` to the project's allow-list (never replaced) or to the deny-list of
    ``entity`` (always replaced) in its rules file. The next anonymize run applies it to
    every record (the rules' digest is part of the settings). Audited with counts only.

    Raises:
        AnonymizeError: an empty term, or the rules file cannot be read.
    """
    from core.anonymize.rules import load_rules

    term = term.strip()
    if not term:
        raise AnonymizeError("select the word or words to add first")
    path = project.path / RULES_FILE
    load_rules(path if path.is_file() else None)  # refuse to extend a broken file
    data: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    if allow:
        values = data.setdefault("allow_list", [])
    else:
        values = data.setdefault("deny_lists", {}).setdefault(entity, [])
    if term not in values:
        values.append(term)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    path.chmod(0o600)
    rules = load_rules(path)
    project.audit(
        "anonymize.rules_change",
        {"list": "allow" if allow else "deny", "entity": None if allow else entity,
         **rules.summary()},
    )  # fmt: skip
    return path


def _item(project: Project, record_id: int) -> ReviewItem:
    found = anonymized.review_items(project.store, [record_id])
    if not found:
        raise AnonymizeError(f"record {record_id} has not been anonymized")
    return found[0]


def _edit(project: Project, record_id: int) -> Edit:
    edit = review_edits(project).get(record_id) or {}
    return {"add": list(edit.get("add", [])), "remove": list(edit.get("remove", []))}


def _reanonymize(
    project: Project, record_id: int, edit: Edit, action: str, entity: str
) -> ReviewItem:
    from core.anonymize.stage import record_anonymizer

    item = _item(project, record_id)
    ((_, text),) = records.record_texts(project.store, [record_id])
    stored = tuple(
        Finding(s["source_start"], s["source_end"], s["entity_type"], s.get("score", 1.0))
        for s in item.spans
    )
    anonymizer = record_anonymizer(project)
    done = anonymizer.apply(text, apply_edits(stored, edit))
    chash = project.store.scalar(
        "SELECT config_hash FROM anonymized WHERE record_id = ?", (record_id,)
    )
    row = AnonymizedRow(record_id, done.text, dict(done.counts), done.spans, False,
                        sorted({*item.reasons, REVIEWED}))  # fmt: skip
    edits = {str(k): v for k, v in review_edits(project).items()}
    edits[str(record_id)] = edit
    with project.store.transaction():
        anonymized.save_anonymized(project.store, str(chash), [row])
        write_settings(project.store, {EDITS_KEY: edits})
        if anonymizer.vault is not None:
            anonymizer.vault.flush(project)
        project.audit("anonymize.review", {"record": record_id, "action": action,
                                           "entity": entity})  # fmt: skip
    return _item(project, record_id)


def pending_reasons(project: Project) -> dict[str, int]:
    """Records still on the review queue, per reason."""
    rows = project.store.conn.execute(
        "SELECT r.value, COUNT(*) FROM anonymized AS a, json_each(a.review_reasons) AS r "
        "WHERE a.needs_review = 1 GROUP BY r.value ORDER BY r.value"
    )
    return {str(reason): int(count) for reason, count in rows}
