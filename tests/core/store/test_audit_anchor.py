"""Anchoring the audit chain outside the project: ``audit verify --head / --against`` and
``audit export``. The chain alone cannot see a deleted tail or a consistent rewrite; these
tests show that limit and that each anchor catches it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat

import pytest

from core.cli import main
from core.errors import AuditExportError
from core.store import audit


def _attacker(project):
    """A connection with the append-only triggers dropped, as someone with the file would."""
    conn = sqlite3.connect(project.path / "stillroom.db")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    return conn


def _delete_last_row(project) -> None:
    conn = _attacker(project)
    conn.execute("DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)")
    conn.commit()
    conn.close()


def _rewrite_whole_chain(project) -> None:
    """Change one row's user and recompute every hash from the genesis: a consistent forgery."""
    conn = _attacker(project)
    rows = conn.execute(f"SELECT {', '.join(audit.FIELDS)} FROM audit ORDER BY id").fetchall()
    prev = audit.GENESIS_HASH
    conn.execute("DELETE FROM audit")
    for row_id, when, user, action, details, _, _ in rows:
        user = "mallory" if row_id == 2 else user
        digest = audit.row_hash(row_id, when, user, action, details, prev)
        conn.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row_id, when, user, action, details, prev, digest),
        )
        prev = digest
    conn.commit()
    conn.close()


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def busy(project):
    for i in range(4):
        project.audit("test.step", {"i": i})
    return project


def test_a_deleted_last_row_passes_the_chain_but_not_the_recorded_head(busy, capsys):
    head = audit.head(busy.store)
    assert audit.find_head(busy.store, head) == audit.AnchorCheck(True, 5, row=5)
    _delete_last_row(busy)
    # The limit of a chain on its own: a truncated chain is still a valid chain.
    assert audit.verify(busy.store).ok
    check = audit.find_head(busy.store, head)
    assert not check.ok
    assert "truncated or rewritten" in check.reason
    code, out, _ = _cli(capsys, "audit", "verify", str(busy.path))
    assert code == 0
    assert "cannot show that its newest rows were deleted" in out
    code, out, _ = _cli(capsys, "audit", "verify", str(busy.path), "--head", head)
    assert code == 1
    assert "ANCHOR FAILED" in out
    assert "truncated or rewritten since that head was recorded" in out
    earlier = audit.head(busy.store)
    assert _cli(capsys, "audit", "verify", str(busy.path), "--head", earlier)[0] == 0


def test_a_consistently_rewritten_chain_fails_head_and_export(busy, tmp_path, capsys):
    exported = tmp_path / "audit.jsonl"
    assert _cli(capsys, "audit", "export", str(busy.path), "--out", str(exported))[0] == 0
    head = audit.head(busy.store)
    _rewrite_whole_chain(busy)
    assert audit.verify(busy.store).ok  # every hash was recomputed
    code, out, _ = _cli(capsys, "audit", "verify", str(busy.path), "--head", head, "--json")
    assert code == 1
    payload = json.loads(out)
    assert payload["ok"] is False
    assert payload["anchors"][0]["ok"] is False
    code, out, _ = _cli(capsys, "audit", "verify", str(busy.path), "--against", str(exported))
    assert code == 1
    assert "row 2 differs from the export (os_user, hash)" in out


def test_an_untouched_project_matches_its_export_after_more_rows(busy, tmp_path, capsys):
    out = tmp_path / "audit.jsonl"
    code, text, _ = _cli(capsys, "audit", "export", str(busy.path), "--out", str(out))
    assert code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    busy.audit("later", {"n": 1})
    code, text, _ = _cli(capsys, "audit", "verify", str(busy.path), "--against", str(out))
    assert code == 0, text
    assert "all 5 exported rows are present, unchanged" in text
    assert _cli(capsys, "audit", "export", str(busy.path), "--out", str(out))[0] == 2  # exists
    exports = [e for e in audit.entries(busy.store) if e.action == "audit.export"]
    assert [e.details["rows"] for e in exports] == [5]  # the export itself is audited


def test_an_export_row_can_be_checked_without_stillroom(busy, tmp_path):
    out = tmp_path / "audit.jsonl"
    rows, head = audit.write_export(busy.store, out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert (len(lines), lines[-1]["hash"]) == (rows, head)
    prev = audit.GENESIS_HASH
    for row in lines:
        payload = [row["id"], row["time"], row["os_user"], row["action"], row["details"], prev]
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == row["hash"]
        prev = row["hash"]


def test_a_truncated_project_fails_against_its_export(busy, tmp_path):
    out = tmp_path / "audit.jsonl"
    audit.write_export(busy.store, out)
    _delete_last_row(busy)
    check = audit.check_against(busy.store, audit.read_export(out))
    assert (check.ok, check.row, check.rows_checked) == (False, 5, 4)
    assert "missing: the chain was truncated" in check.reason


def test_a_damaged_export_or_a_bad_head_is_refused(busy, tmp_path, capsys):
    out = tmp_path / "audit.jsonl"
    audit.write_export(busy.store, out)
    lines = out.read_text().splitlines()
    row = json.loads(lines[1])
    row["action"] = "edited"
    out.write_text("\n".join([lines[0], json.dumps(row), *lines[2:]]) + "\n")
    with pytest.raises(AuditExportError, match="not an intact audit chain"):
        audit.read_export(out)
    code, _, err = _cli(capsys, "audit", "verify", str(busy.path), "--against", str(out))
    assert code == 2
    assert "edited" in err
    code, _, err = _cli(capsys, "audit", "verify", str(busy.path), "--head", "abc")
    assert code == 2
    assert "not a chain hash" in err
