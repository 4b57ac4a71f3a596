"""Fixtures for the teacher tests: tiny models, an anonymized project, a loopback endpoint."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.project import Project, QualityFloor

sys.path.insert(0, str(Path(__file__).parent))

from fake_openai_server import FakeOpenAIServer, ModelBackend, Switches
from teach_helpers import fill_records
from tiny_models import (
    LABELS,
    PROMPTS,
    build_causal,
    build_classifier,
    cached_model,
)


@pytest.fixture(scope="session")
def tiny_causal() -> Path:
    return cached_model("tiny-causal", build_causal, PROMPTS)


@pytest.fixture(scope="session")
def tiny_classifier() -> Path:
    return cached_model("tiny-classifier", build_classifier, PROMPTS)


@pytest.fixture(scope="session")
def model_backend(tiny_causal) -> ModelBackend:
    return ModelBackend(tiny_causal)


@pytest.fixture
def server(model_backend) -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer(model_backend, Switches(model_name="tiny")).start()
    yield fake
    fake.stop()


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
