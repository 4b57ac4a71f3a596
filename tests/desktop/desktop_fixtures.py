"""Fixtures and helpers for the desktop tests (a unique module name: see tests/desktop/conftest).

``app_context`` has its own QSettings file and a fixed device label, so no test reads the
user's recent projects or imports torch to find the GPU.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from core.data.importer import ImportConfig
from core.jobs.registry import IMPORT, Stage
from core.project import Project, QualityFloor
from core.train.config import TrainResult
from desktop.context import AppContext

LABELS = ("billing", "clinical", "other")
PHRASES = {
    "billing": "the invoice for account {n} was charged twice",
    "clinical": "the nurse said the lab result {n} needs a follow up",
    "other": "please update the mailing address to street {n}",
}


@pytest.fixture
def app_context(qapp: Any, tmp_path: Path) -> Iterator[AppContext]:
    """An AppContext with an isolated settings file and the device set to CPU."""
    settings = QSettings(str(tmp_path / "gui-settings.ini"), QSettings.Format.IniFormat)
    context = AppContext(settings)
    context.set_device_label("CPU")
    yield context
    context.deleteLater()


@pytest.fixture
def new_project(tmp_path: Path) -> Path:
    """A created classification project (labels billing/clinical/other, floor 0.9)."""
    path = tmp_path / "project"
    Project.create(path, task="classification", labels=LABELS, floor=QualityFloor(0.9)).close()
    return path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    """A 60-row CSV (text, label), 20 rows per label."""
    return write_tiny_csv(tmp_path / "tiny.csv")


@pytest.fixture
def imported_project(new_project: Path, tiny_csv: Path) -> Path:
    """``new_project`` with ``tiny_csv`` imported through a real ``import`` run."""
    run_stage_in_process(new_project, IMPORT, import_config(tiny_csv))
    return new_project


@pytest.fixture
def opened_context(app_context: AppContext, new_project: Path) -> AppContext:
    """``app_context`` with ``new_project`` open."""
    app_context.open_project(new_project)
    return app_context


def write_tiny_csv(path: Path, per_label: int = 20) -> Path:
    """Write ``per_label`` unique rows for each label as ``text,label``."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(per_label):
            for label in LABELS:
                writer.writerow([f"Jane Roe{i} writes: {PHRASES[label].format(n=i)}", label])
    return path


def import_config(source: Path) -> ImportConfig:
    """The import stage's config for ``source`` (columns text, label)."""
    return ImportConfig(source=source, text_column="text", label_column="label")


def run_stage_in_process(project_dir: Path, stage: Stage[Any, Any], config: Any) -> str:
    """Run one stage under a new ``runs`` row in this process (fast set-up); returns the run
    id."""
    from core.jobs.execute import execute_run
    from core.jobs.runs import create_run

    with Project.open(project_dir) as project:
        run_id = create_run(project, stage, config)
        outcome = execute_run(project, run_id, lambda event: None)
    assert outcome.status == "succeeded", outcome.error
    return run_id


def train_result(model_dir: Path, **changes: Any) -> TrainResult:
    """A train stage result for a student in ``model_dir`` (6 steps on the CPU)."""
    values: dict[str, Any] = {
        "run_id": "r", "model_dir": model_dir, "lineage_path": model_dir / "lineage.json",
        "curves_path": model_dir.parent / "curves.jsonl", "task": "classification",
        "teacher_id": "labels", "prompt_version": "", "resumed": False,
        "resumed_from_step": 0, "global_step": 6, "epochs_run": 1.0,
        "best_val_metric": None, "val_metric_name": "accuracy", "stopped_early": False,
        "train_examples": 24, "validation_examples": 8, "samples_per_s": 1.0,
        "peak_memory_mb": 0.0, "device": "cpu", "batch_size": 4, "grad_accum": 1,
        "oom_retries": 0, "seconds": 1.0, "truncated_share": 0.0,
    }  # fmt: skip
    return TrainResult(**{**values, **changes})
