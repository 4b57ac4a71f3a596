"""A tiny project through the real stages (pattern-only anonymization, the evaluate tests'
tiny classifier as a local teacher and as the student's start, evaluate, export), built
once per session and copied for each test that changes it; replayed prediction logs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "teacher"))

from evaluate_helpers import TINY, build_trained_student, cached, fill_records, make_project


def _build(root: Path) -> Path:
    from core.anonymize.config import AnonymizeConfig
    from core.evaluate.config import EvaluateConfig
    from core.export.config import ExportConfig
    from core.jobs.execute import run_stage
    from core.jobs.registry import ANONYMIZE, EVALUATE, EXPORT, TEACH, TRAIN
    from core.teacher.config import TeachConfig
    from core.teacher.sources import MODEL_SPEC
    from core.train.config import TrainConfig

    model = cached("tiny-student", build_trained_student)
    project = make_project(root, "mon", min_retention=0.5)
    try:
        fill_records(project, 90)
        run_stage(project, ANONYMIZE, AnonymizeConfig(pattern_only=True, processes=1))
        run_stage(project, TEACH, TeachConfig(teacher=MODEL_SPEC.spec(str(model)), batch_size=16))
        run_stage(project, TRAIN, TrainConfig(student=str(model), epochs=1, batch_size=16,
                                              device="cpu", checkpoint_every=1000))  # fmt: skip
        run_stage(project, EVALUATE, EvaluateConfig(measure_latency=False, quantize_baseline=False,
                                                    sample_sizes=TINY))  # fmt: skip
        run_stage(project, EXPORT, ExportConfig(out=root / "mon" / "exports" / "tiny", name="tiny"))
    finally:
        project.close()
    return root / "mon"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("monitor-project"))


@pytest.fixture
def project_dir(built, tmp_path) -> Path:
    """A copy of the built project (tests import logs into it, or re-distil it)."""
    target = tmp_path / "mon"
    shutil.copytree(built, target)
    return target
