"""Fixtures for the teacher tests: tiny models, an anonymized project, a loopback endpoint."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.project import Project, QualityFloor
from core.store.db import utc_now
from core.teacher.models import cache_dir

sys.path.insert(0, str(Path(__file__).parent))

from fake_openai_server import FakeOpenAIServer, ModelBackend, Switches
from tiny_models import LABELS, anonymized_text, build_causal, build_classifier, raw_text


def _cached(name: str, build: Callable[[Path], Path]) -> Path:
    """Build a tiny model once per version of its recipe, kept in the Stillroom cache.

    Training the tiny causal LM takes ~10 s on two cores; the cache makes reruns instant.
    The key covers the recipe and the prompts it trains on, and the library versions.
    """
    import tokenizers
    import torch
    import transformers

    recipe = (Path(__file__).parent / "tiny_models.py").read_bytes()
    recipe += (Path(__file__).parents[3] / "core" / "teacher" / "prompts.py").read_bytes()
    versions = f"{torch.__version__}|{transformers.__version__}|{tokenizers.__version__}"
    key = hashlib.sha256(recipe + versions.encode()).hexdigest()[:12]
    target = cache_dir() / "test-models" / f"{name}-{key}"
    if not (target / "config.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        build(scratch)
        try:
            os.replace(scratch, target)
        except OSError:  # another test process built it first
            shutil.rmtree(scratch, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def tiny_causal() -> Path:
    return _cached("tiny-causal", build_causal)


@pytest.fixture(scope="session")
def tiny_classifier() -> Path:
    return _cached("tiny-classifier", build_classifier)


@pytest.fixture(scope="session")
def model_backend(tiny_causal) -> ModelBackend:
    return ModelBackend(tiny_causal)


@pytest.fixture
def server(model_backend) -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer(model_backend, Switches(model_name="tiny")).start()
    yield fake
    fake.stop()


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


@pytest.fixture
def teach_project(tmp_path) -> Iterator[Project]:
    """A classification project with 30 records, all anonymized and human-labelled."""
    proj = Project.create(
        tmp_path / "teach", task="classification", labels=LABELS, floor=QualityFloor(0.9)
    )
    fill_records(proj, 30)
    yield proj
    proj.close()


@pytest.fixture
def generation_project(tmp_path) -> Iterator[Project]:
    proj = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.9))
    fill_records(proj, 6, labelled=False)
    yield proj
    proj.close()
