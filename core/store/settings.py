"""The ``settings`` table: the project's task, label set and quality floor, as JSON values."""

from __future__ import annotations

import json
from typing import Any

from core.store.db import Store


def read_setting(store: Store, key: str, default: Any = None) -> Any:
    """One setting, decoded from JSON; ``default`` when it is not set."""
    raw = store.scalar("SELECT value FROM settings WHERE key = ?", (key,))
    return default if raw is None else json.loads(raw)


def write_settings(store: Store, values: dict[str, Any]) -> None:
    """Store settings as JSON, replacing earlier values (joins the caller's transaction)."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(key, json.dumps(value)) for key, value in values.items()],
        )
