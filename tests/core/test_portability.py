"""Projects are folders that can be copied, archived and moved (DESIGN §3).

The fixture is a project made by release 0.1.0 (tests/fixtures/legacy-0.1.0), whose store
holds absolute paths under a folder that does not exist here.
"""

from __future__ import annotations

import shutil
import sqlite3
import tarfile
from pathlib import Path

import pytest

from core.cli import main
from core.jobs.registry import EXPORT, TRAIN
from core.jobs.runs import latest, latest_result, list_runs
from core.project import Project
from core.stage_states import stage_states
from core.store.schema import SCHEMA_VERSION

FIXTURE = Path(__file__).parents[1] / "fixtures" / "legacy-0.1.0" / "project.tar.gz"
ORIGINAL = "/tmp/legacy/legacy-project"  # where 0.1.0 wrote it


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    return tmp_path / "unpacked" / "legacy-project"


def test_a_release_0_1_0_project_opens_migrates_and_finds_its_own_files(legacy):
    with Project.open(legacy) as project:
        version = project.store.scalar("PRAGMA user_version")
        trained = latest(project, TRAIN)
        exported = latest_result(project, EXPORT)
        states = stage_states(project)
        stored = [r.result for r in list_runs(project) if r.result] + [
            r.config for r in list_runs(project)
        ]
    assert version == SCHEMA_VERSION
    assert list((legacy / "backups").glob("stillroom.v1.*.db")), "no backup before migrating"
    assert trained is not None
    assert trained.result.model_dir == legacy / "runs" / trained.run.id / "student"
    assert (trained.result.model_dir / "config.json").is_file()
    assert exported is not None
    assert exported.bundle == legacy / "exports" / "bundle"
    assert ORIGINAL not in repr(stored), "an in-project path is still absolute"
    assert "/tmp/legacy/student-base" in repr(stored), "an outside path was rewritten"
    assert states["export"].state == "done"
    assert states["train"].state == "needs_attention"  # the run killed by 0.1.0
    assert main(["audit", "verify", str(legacy)]) == 0  # the migration left the chain alone


def test_a_stopped_0_1_0_run_says_plainly_that_its_base_model_is_gone(legacy, capsys):
    with Project.open(legacy) as project:
        stopped = [r.id for r in list_runs(project, "train") if r.status == "interrupted"]
    assert main(["train", str(legacy), "--resume", stopped[0]]) == 2
    error = capsys.readouterr().err
    assert "/tmp/legacy/student-base" in error
    assert "Traceback" not in error


def test_a_copied_project_uses_its_own_files_once_the_original_is_gone(legacy, tmp_path, capsys):
    copy = tmp_path / "archive" / "triage-copy"
    shutil.copytree(legacy, copy)
    shutil.rmtree(legacy)
    assert main(["status", str(copy)]) == 0
    # 0.1.0 did not sign bundles: its files still match, and the verdict says to re-export.
    assert main(["bundle", "verify", str(copy / "exports" / "bundle")]) == 1
    assert "signature.json: missing" in capsys.readouterr().err
    evaluated = main(["evaluate", str(copy), "--no-latency", "--no-baseline", "--no-onnx"])
    assert evaluated in (0, 1)  # a verdict either way; the tiny student fails its floor
    out = copy / "exports" / "again"
    assert main(["export", str(copy), "--out", str(out), "--override-floor", "test copy",
                 "--override-parity", "tiny model"]) == 0  # fmt: skip
    assert main(["bundle", "verify", str(out)]) == 0
    with Project.open(copy) as project:
        exported = latest_result(project, EXPORT)
        runs_now = list_runs(project)
    assert exported is not None
    assert exported.bundle == out
    capsys.readouterr()
    assert str(legacy) not in repr([r.result for r in runs_now] + [r.config for r in runs_now])


def test_the_migration_keeps_a_project_that_never_moved_working(tmp_path):
    project = Project.create(tmp_path / "p", task="generation", floor=_floor())
    project.close()
    with sqlite3.connect(tmp_path / "p" / "stillroom.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not (tmp_path / "p" / "backups").exists()  # a new store needs no backup


def _floor():
    from core.project import QualityFloor

    return QualityFloor(0.9)
