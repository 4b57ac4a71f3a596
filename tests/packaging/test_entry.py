"""packaging/entry.py: one executable for the window, the CLI, the worker and the self-test."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.jobs import protocol
from core.jobs.runs import create_run, get_run
from core.project import Project, QualityFloor

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "packaging" / "entry.py"


def _load_entry():
    spec = importlib.util.spec_from_file_location("stillroom_frozen_entry", ENTRY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, list[str]]]:
    """Record which main each command line reaches, instead of running it."""
    import core.cli

    seen: list[tuple[str, list[str]]] = []

    def recorder(name):
        return lambda argv: seen.append((name, list(argv))) or 0

    gui = type(sys)("desktop.app")
    gui.main = recorder("gui")
    tester = type(sys)("desktop.self_test")
    tester.main = recorder("self-test")
    monkeypatch.setitem(sys.modules, "desktop.app", gui)
    monkeypatch.setitem(sys.modules, "desktop.self_test", tester)
    monkeypatch.setattr(core.cli, "main", recorder("cli"))
    return seen


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ("gui", [])),
        (["gui"], ("gui", [])),
        (["gui", "/data/proj"], ("gui", ["/data/proj"])),
        (["--self-test"], ("self-test", [])),
        (["--self-test", "--json"], ("self-test", ["--json"])),
        (["worker", "/data/proj", "train-1"], ("cli", ["worker", "/data/proj", "train-1"])),
        (["status", "/data/proj", "--json"], ("cli", ["status", "/data/proj", "--json"])),
        (["--help"], ("cli", ["--help"])),
    ],
)
def test_dispatch(calls, argv, expected):
    assert _load_entry().main(argv) == 0
    assert calls == [expected]


def test_worker_mode_runs_a_stored_run_unfrozen(tmp_path):
    """The command line the frozen app gets from worker_command, run through entry.py."""
    with Project.create(tmp_path / "proj", task="classification", floor=QualityFloor(0.9)) as p:
        run_id = create_run(p, "selftest", {"steps": 3})
    done = subprocess.run(
        [sys.executable, str(ENTRY), "worker", str(tmp_path / "proj"), run_id],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == protocol.EXIT_OK, done.stderr
    kinds = [json.loads(line)["kind"] for line in done.stdout.splitlines() if line.strip()]
    assert kinds[0] == "started"
    assert kinds[-1] == "finished"
    with Project.open(tmp_path / "proj") as project:
        assert get_run(project, run_id).status == "succeeded"


def test_cli_errors_keep_their_exit_code(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ENTRY), "status", str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("stillroom: error:")
