"""Raw SQL lives in the store layer only: ``core/store/`` (and ``core/jobs/runs.py``, which
owns the ``runs`` and ``events`` tables). Every other module calls its typed functions.
The server's prediction log is its own database, not the project store: its SQL stays in
its one module, ``core/serve/predlog.py``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = ("core/store/", "core/jobs/runs.py", "core/serve/predlog.py")
# Still to move into the store layer (issue 15 moves them); each entry must still hold SQL,
# so the list can only shrink.
PENDING = ("core/evaluate/", "core/export/", "core/stage_states.py")
SQL = re.compile(
    r"\b(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|(CREATE|DROP)\s+(TEMP\s+)?(TABLE|INDEX|TRIGGER|VIEW)\s|PRAGMA\s)"
    r"|\.(execute|executemany|executescript|create_function)\("
    r"|\bstore\.(conn|query|scalar)\b"
)


def _sql_lines(prefixes: tuple[str, ...] = ()) -> list[str]:
    """``path:line: text`` of every line of product code that looks like SQL, in files
    under ``prefixes`` (all product code when empty)."""
    found = []
    for folder in ("core", "desktop"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if prefixes and not name.startswith(prefixes):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SQL.search(line):
                    found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_only_the_store_layer_holds_sql():
    outside = [line for line in _sql_lines() if not line.startswith((*ALLOWED, *PENDING))]
    assert outside == [], "move these queries into core/store/ as typed functions"


def test_each_pending_module_still_holds_sql():
    for prefix in PENDING:
        assert _sql_lines((prefix,)), f"{prefix} holds no SQL any more: drop it from PENDING"


def test_the_check_sees_sql():
    assert SQL.search('rows = conn.execute("SELECT id FROM records")')
    assert SQL.search('"UPDATE runs SET status = ?"')
    assert SQL.search("total = project.store.scalar(sql)")
    assert not SQL.search("select the records to label, then update the counts")
