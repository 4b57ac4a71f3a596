"""Fixtures for the evaluate tests: a trained tiny student and projects around it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.project import Project

sys.path.insert(0, str(Path(__file__).parent))

from evaluate_helpers import (
    add_teacher_outputs,
    build_trained_student,
    cached,
    fake_train_run,
    fill_records,
    make_project,
)


@pytest.fixture(scope="session")
def trained_student() -> Path:
    return cached("tiny-student", build_trained_student)


@pytest.fixture(scope="session")
def other_labels_student() -> Path:
    labels = ("spam", "ham")
    return cached("tiny-student-spam-ham", lambda folder: build_trained_student(folder, labels))


@pytest.fixture
def eval_project(tmp_path, trained_student) -> Iterator[Project]:
    """90 records (27 test, 9 edge), teacher soft labels, a succeeded train run."""
    proj = make_project(tmp_path)
    fill_records(proj, 90)
    add_teacher_outputs(proj)
    fake_train_run(proj, trained_student)
    yield proj
    proj.close()


@pytest.fixture(scope="session")
def tiny_causal() -> Path:
    from tiny_models import build_causal

    return cached("tiny-causal-student", build_causal)
