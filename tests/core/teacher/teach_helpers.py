"""Records for the teacher tests, filled in by SQL: raw text that names a person, and its
anonymized form (the only text a teacher may see)."""

from __future__ import annotations

import sqlite3

from tiny_models import LABELS, anonymized_text, raw_text

from core.project import Project
from core.store.db import utc_now


def fill_records(
    project: Project, count: int, *, anonymized: int | None = None, labelled: bool = True
) -> list[int]:
    """Insert ``count`` records (raw text naming a person) and anonymize the first few."""
    anonymized = count if anonymized is None else anonymized
    splits = ("train", "train", "train", "validation", "test")
    conn: sqlite3.Connection
    with project.store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) VALUES "
            "('t', '/dev/null', ?, 0, 'csv', ?, ?, '{}', '{}', ?)",
            (f"sha-{count}-{utc_now()}", count, count, utc_now()),
        )
        dataset = cur.lastrowid
        ids = []
        for i in range(count):
            label = LABELS[i % len(LABELS)]
            cur = conn.execute(
                "INSERT INTO records (dataset_id, source_row, split, text, text_sha256, label) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (dataset, i + 1, splits[i % len(splits)], raw_text(label, i),
                 f"{dataset}-{i}".encode(), label if labelled else None),
            )  # fmt: skip
            ids.append(int(cur.lastrowid))
            if i < anonymized:
                conn.execute(
                    "INSERT INTO anonymized (record_id, text, entity_counts, config_hash, "
                    "created_at) VALUES (?, ?, '{\"PERSON\": 1}', 'test', ?)",
                    (cur.lastrowid, anonymized_text(label, i), utc_now()),
                )
    return ids
