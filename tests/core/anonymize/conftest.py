"""Fixtures for the anonymize tests: projects with records, and one engine per session."""

from __future__ import annotations

import hashlib

import pytest

from core.anonymize.config import AnonymizeConfig
from core.anonymize.detect import Detector
from core.anonymize.engine import EngineSpec


def add_records(project, texts, *, dataset_name="fixture"):
    """Insert records directly (no importer): one dataset, one record per text."""
    with project.store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) "
            "VALUES (?, 'fixture', ?, 0, 'jsonl', ?, ?, '{}', '{}', 'now')",
            (
                dataset_name,
                hashlib.sha256(dataset_name.encode()).hexdigest(),
                len(texts),
                len(texts),
            ),
        )
        dataset_id = cursor.lastrowid
        ids = []
        for row, text in enumerate(texts, start=1):
            ids.append(
                conn.execute(
                    "INSERT INTO records (dataset_id, source_row, split, text, text_sha256) "
                    "VALUES (?, ?, 'train', ?, ?)",
                    (dataset_id, row, text, hashlib.sha256(f"{row}:{text}".encode()).digest()),
                ).lastrowid
            )
    return ids


def anonymized(project, record_id):
    return project.store.query("SELECT * FROM anonymized WHERE record_id = ?", (record_id,))[0]


@pytest.fixture(scope="session")
def detector():
    """The real engine with the shipped spaCy model, loaded once (it takes seconds)."""
    config = AnonymizeConfig()
    spec = EngineSpec(config.resolved_entities(), config.spacy_model)
    return Detector(spec, config.score_threshold, config.review_threshold)


@pytest.fixture
def find(detector):
    """``find(text)`` → the findings in ``text`` (entity, start, end, score)."""

    def run(text):
        return list(detector.detect_batch([text])[0].findings)

    return run
