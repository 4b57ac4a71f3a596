"""packaging/entry.py: one executable for the window, the CLI, the worker and the self-test."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.jobs import protocol
from core.jobs.registry import SELFTEST
from core.jobs.runs import create_run, get_run
from core.jobs.selftest import SelftestConfig
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
        run_id = create_run(p, SELFTEST, SelftestConfig(steps=3))
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


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "desktop.app"], [sys.executable, str(ENTRY), "gui"]],
    ids=["desktop.app", "entry.py gui"],
)
def test_the_window_runs_with_an_owner_only_umask(tmp_path, command):
    """The window's process (and the workers it starts, which inherit it) has umask 077."""
    import os
    import time

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "HOME": str(tmp_path)}  # fmt: skip
    previous = os.umask(0o022)  # the child inherits the usual 022 and must change it
    try:
        window = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
    finally:
        os.umask(previous)
    try:
        deadline, umask = time.monotonic() + 30, None
        while time.monotonic() < deadline and umask != "0077" and window.poll() is None:
            status = Path(f"/proc/{window.pid}/status").read_text()
            umask = next(line.split()[1] for line in status.splitlines()
                         if line.startswith("Umask:"))  # fmt: skip
            time.sleep(0.1)
        assert umask == "0077"
    finally:
        window.kill()
        window.wait(timeout=30)
