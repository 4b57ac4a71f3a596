"""Schema migration 2: a project folder that can be copied, archived and moved.

Release 0.1.0 stored absolute paths in ``runs.config`` and ``runs.result`` (the student
folder, the report, the bundle under ``exports/``), so a copied project silently used the
original's files, and with the original gone found nothing. This migration finds the folder
the project was in when those paths were written — the prefix in front of
``/runs/<one of its run ids>`` — and rewrites every stored path under it relative to the
project (DESIGN §3). Paths outside it (import sources, model folders the user picked) stay
as they are. It also gives the anonymize config's per-entity operators the stored form of
the typed config (a list of pairs; 0.1.0 wrote an object).

The audit log and the events keep the paths they were written with: they are history.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from typing import Any


def relative_paths(conn: sqlite3.Connection) -> None:
    """Rewrite the runs' stored configs and results with project-relative paths."""
    rows = conn.execute("SELECT id, stage, config, result FROM runs").fetchall()
    stored = [(row[0], row[1], _load(row[2]), _load(row[3])) for row in rows]
    root = _old_root(
        {run_id for run_id, *_ in stored}, [v for _, _, c, r in stored for v in (c, r)]
    )
    for run_id, stage, config, result in stored:
        new_config, new_result = _relative(config, root), _relative(result, root)
        if stage == "anonymize" and isinstance(new_config, dict):
            operators = new_config.get("operators")
            if isinstance(operators, dict):
                new_config["operators"] = sorted([k, v] for k, v in operators.items())
        conn.execute(
            "UPDATE runs SET config = ?, result = ? WHERE id = ?",
            (
                json.dumps(new_config),
                None if new_result is None else json.dumps(new_result),
                run_id,
            ),
        )


def _load(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


def _old_root(run_ids: set[str], values: list[Any]) -> str | None:
    """The project folder the stored paths were written in: ``X`` of ``X/runs/<run id>``."""
    pattern = re.compile(r"^(/.*|[A-Za-z]:[\\/].*)[\\/]runs[\\/]([^\\/]+)(?:[\\/]|$)")
    found: Counter[str] = Counter()
    for text in _strings(values):
        match = pattern.match(text)
        if match and match.group(2) in run_ids:
            found[match.group(1)] += 1
    return found.most_common(1)[0][0] if found else None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _relative(value: Any, root: str | None) -> Any:
    if root is None:
        return value
    if isinstance(value, str):
        if value == root:
            return "."
        for separator in ("/", "\\"):
            if value.startswith(root + separator):
                return value[len(root) + 1 :].replace("\\", "/")
        return value
    if isinstance(value, dict):
        return {key: _relative(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [_relative(item, root) for item in value]
    return value
