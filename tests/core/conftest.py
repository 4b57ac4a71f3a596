"""Fixtures for the core tests: real projects in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.project import Project, QualityFloor


@pytest.fixture
def project(tmp_path) -> Iterator[Project]:
    proj = Project.create(
        tmp_path / "proj", task="classification", labels=(), floor=QualityFloor(0.95)
    )
    yield proj
    proj.close()


@pytest.fixture
def labelled_project(tmp_path) -> Iterator[Project]:
    proj = Project.create(
        tmp_path / "labelled",
        task="classification",
        labels=("billing", "clinical", "other"),
        floor=QualityFloor(0.9),
    )
    yield proj
    proj.close()
