"""Fixtures for the export tests: one real evaluated-and-exported project per session (most
tests only read its bundle), and fresh projects for the tests that change things."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.project import Project

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "teacher"))

from evaluate_helpers import build_trained_student, cached
from export_helpers import build_project, fake_evaluate_run


@dataclass(frozen=True)
class Exported:
    project: Path
    bundle: Path
    result: dict[str, Any]
    rows: int


@pytest.fixture(scope="session")
def trained_student() -> Path:
    return cached("tiny-student", build_trained_student)


@pytest.fixture(scope="session")
def exported(tmp_path_factory, trained_student) -> Exported:
    """A project evaluated by the real evaluate stage, exported through the run lifecycle;
    ``result`` is the export's result as ``--json`` prints it."""
    from core.configs import to_json
    from core.evaluate.config import EvaluateConfig
    from core.export.config import ExportConfig
    from core.jobs.execute import run_stage
    from core.jobs.registry import EVALUATE, EXPORT

    root = tmp_path_factory.mktemp("exported")
    with build_project(root, trained_student) as project:
        config = EvaluateConfig(measure_latency=False, quantize_baseline=False)
        assert run_stage(project, EVALUATE, config).passed is True
        result = run_stage(project, EXPORT, ExportConfig(out=root / "bundle"))
        return Exported(project.path, root / "bundle", to_json(result), 90)


@pytest.fixture
def fresh_project(tmp_path, trained_student) -> Iterator[Project]:
    """A project with a trained student and a faked passing evaluation."""
    project = build_project(tmp_path, trained_student, name="fresh", rows=60)
    fake_evaluate_run(project)
    yield project
    project.close()


@pytest.fixture
def unevaluated_project(tmp_path, trained_student) -> Iterator[Project]:
    project = build_project(tmp_path, trained_student, name="unevaluated", rows=60)
    yield project
    project.close()
