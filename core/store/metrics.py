"""The ``metrics`` table: the figures each run recorded, by split and name."""

from __future__ import annotations

from collections.abc import Iterable

from core.store.db import Store


def add_metrics(
    store: Store, run_id: str, rows: Iterable[tuple[str, str, float]], *, step: int | None = None
) -> None:
    """Record ``(split, name, value)`` rows for a run in one transaction (joins the
    caller's); ``split`` is ``""`` for a figure of the whole run."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO metrics (run_id, split, name, value, step) VALUES (?, ?, ?, ?, ?)",
            [(run_id, split, name, value, step) for split, name, value in rows],
        )


def run_metrics(store: Store, run_id: str) -> list[tuple[str, str, float]]:
    """The run's ``(split, name, value)`` rows, in the order they were recorded."""
    sql = "SELECT split, name, value FROM metrics WHERE run_id = ? ORDER BY id"
    return store.conn.execute(sql, (run_id,)).fetchall()
