"""Fixtures for the train tests: tiny models from a config, projects with teacher outputs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.project import Project, QualityFloor

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1] / "teacher")]

from tiny_models import build_causal, build_classifier  # noqa: E402
from train_helpers import (  # noqa: E402
    LABELS,
    build_other_tokenizer_causal,
    build_tiny_bert4,
    cached_model,
    fill_project,
)


@pytest.fixture(scope="session")
def tiny_classifier() -> Path:
    return cached_model("tiny-classifier", build_classifier)


@pytest.fixture(scope="session")
def tiny_bert4() -> Path:
    return cached_model("tiny-bert4", build_tiny_bert4)


@pytest.fixture(scope="session")
def tiny_causal() -> Path:
    return cached_model("tiny-causal", build_causal)


@pytest.fixture(scope="session")
def other_tokenizer_causal() -> Path:
    return cached_model("tiny-causal-othertok", build_other_tokenizer_causal)


@pytest.fixture
def train_project(tmp_path) -> Iterator[Project]:
    """A classification project: 40 records, anonymized, with soft labels from a teacher."""
    proj = Project.create(
        tmp_path / "train", task="classification", labels=LABELS, floor=QualityFloor(0.9)
    )
    fill_project(proj, 40)
    yield proj
    proj.close()


@pytest.fixture
def taught(tmp_path, tiny_causal) -> Iterator[Project]:
    """A generation project: 20 records answered by the tiny causal teacher."""
    from core.jobs.execute import run_stage
    from core.jobs.registry import TEACH
    from core.reporter import NullReporter
    from core.teacher.config import TeachConfig

    project = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.9))
    fill_project(project, 20, generation=True)
    run_stage(project, TEACH, TeachConfig(teacher=f"hf:{tiny_causal}", max_new_tokens=6,
                                   batch_size=10), reporter=NullReporter())  # fmt: skip
    yield project
    project.close()
