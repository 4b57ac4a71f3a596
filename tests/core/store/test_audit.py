from __future__ import annotations

import itertools
import sqlite3

import pytest

from core.store import audit


def _tamper(project, sql: str, params=()) -> None:
    """Edit the file directly, as someone bypassing Stillroom would."""
    conn = sqlite3.connect(project.path / "stillroom.db")
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_chain_verifies_after_appends(project):
    for i in range(5):
        project.audit("test.step", {"i": i})
    result = audit.verify(project.store)
    assert result.ok
    assert result.rows_checked == 6  # project.create + 5
    assert result.head_hash == audit.head(project.store)


def test_each_row_links_to_the_one_before(project):
    project.audit("a", {})
    project.audit("b", {})
    rows = project.store.query("SELECT prev_hash, hash FROM audit ORDER BY id")
    assert rows[0]["prev_hash"] == audit.GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]


def test_update_and_delete_are_refused_by_triggers(project):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.store.conn.execute("UPDATE audit SET action = 'x' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.store.conn.execute("DELETE FROM audit WHERE id = 1")


def test_edited_row_is_reported_first(project):
    for i in range(4):
        project.audit("test.step", {"i": i})
    _tamper(project, "UPDATE audit SET details = ? WHERE id = 3", ('{"i":99}',))
    result = audit.verify(project.store)
    assert not result.ok
    assert result.first_broken_id == 3
    assert result.rows_checked == 2
    assert "edited" in result.reason


def test_deleted_row_is_detected(project):
    for i in range(4):
        project.audit("test.step", {"i": i})
    _tamper(project, "DELETE FROM audit WHERE id = 2")
    result = audit.verify(project.store)
    assert (result.ok, result.first_broken_id) == (False, 3)
    assert "deleted" in result.reason


def test_deleted_tail_row_is_invisible_to_the_chain_but_not_to_the_head(project):
    project.audit("a", {})
    head = audit.head(project.store)
    _tamper(project, "DELETE FROM audit WHERE id = 2")
    # Truncation cannot be seen from inside the chain: that is why bundles record the head.
    assert audit.verify(project.store).ok
    assert audit.head(project.store) != head


def test_rewritten_row_with_recomputed_hash_breaks_the_next_link(project):
    for i in range(3):
        project.audit("test.step", {"i": i})
    row = project.store.query("SELECT * FROM audit WHERE id = 2")[0]
    forged = audit.row_hash(
        2, row["time"], "mallory", row["action"], row["details"], row["prev_hash"]
    )
    _tamper(project, "UPDATE audit SET os_user = 'mallory', hash = ? WHERE id = 2", (forged,))
    result = audit.verify(project.store)
    assert result.first_broken_id == 3
    assert "prev_hash" in result.reason


def test_entries_are_returned_oldest_first(project):
    project.audit("one", {"n": 1})
    project.audit("two", {"n": 2})
    found = audit.entries(project.store, limit=2)
    assert [e.action for e in found] == ["one", "two"]
    assert found[1].details == {"n": 2}
