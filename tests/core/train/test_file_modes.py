"""Everything a run writes is owner-only: the entry points set the umask to 077, and the train
stage makes its own outputs private even when called under a permissive umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.reporter import NullReporter
from core.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask most desktops start programs with (022), restored afterwards."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def readable_by_others(*roots: Path) -> list[str]:
    """Every file or folder under ``roots`` with a group or other permission bit."""
    found = []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                found.append(f"{oct(mode)} {path.relative_to(root.parent)}")
    return found


def _cli(*argv: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, argv)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def _train_options(student: Path) -> list[str]:
    return ["--student", str(student), "--epochs", "1", "--batch-size", "4",
            "--checkpoint-every", "2", "--device", "cpu", "--early-stopping", "0"]  # fmt: skip


def _outputs(project_path: Path) -> list[str]:
    run_dir = next(p for p in (project_path / "runs").iterdir() if p.name.startswith("train-"))
    return sorted(
        str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
        if p.name in ("optimizer.pt", "lineage.json", "model.safetensors")
    )  # fmt: skip


def test_train_through_the_cli_writes_nothing_others_can_read(
    permissive_umask, train_project, tiny_classifier
):
    train_project.close()  # the child is the only writer
    done = _cli("train", train_project.path, *_train_options(tiny_classifier))
    assert done.returncode == 0, done.stderr[-2000:]
    outputs = _outputs(train_project.path)
    assert "student/lineage.json" in outputs
    assert any(name.startswith("checkpoints/checkpoint-") for name in outputs)
    assert readable_by_others(train_project.path) == []


def test_the_train_stage_keeps_its_outputs_private_under_any_umask(
    permissive_umask, train_project, tiny_classifier
):
    config = TrainConfig(student=str(tiny_classifier), epochs=1, batch_size=4,
                         checkpoint_every=2, device="cpu", early_stopping=0)  # fmt: skip
    result = run_stage(train_project, TRAIN, config, reporter=NullReporter())
    assert readable_by_others(result.model_dir, result.model_dir.parent / "checkpoints") == []
    assert oct(result.curves_path.stat().st_mode & 0o777) == "0o600"


def test_train_and_export_through_the_cli_leave_project_and_bundle_private(
    permissive_umask, train_project, tiny_classifier
):
    train_project.close()
    done = _cli("train", train_project.path, *_train_options(tiny_classifier))
    assert done.returncode == 0, done.stderr[-2000:]
    bundle = train_project.path.parent / "bundle"
    done = _cli("export", train_project.path, "--out", bundle, "--override-floor", "file modes",
                "--override-parity", "file modes")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (bundle / "model.onnx").is_file()
    assert readable_by_others(train_project.path, bundle) == []
