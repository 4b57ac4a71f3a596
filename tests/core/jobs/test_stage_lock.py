"""One run of a stage at a time per project: a second one, from any entry point, exits 2
naming the first one's pid and records nothing; a killed holder never leaves a stale lock."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.cli import main
from core.jobs import protocol
from core.jobs.execute import execute_run
from core.jobs.locks import StageBusyError, ensure_stage_free, lock_path, stage_lock
from core.jobs.registry import SELFTEST
from core.jobs.runs import create_run, get_run, list_runs
from core.jobs.selftest import SelftestConfig
from core.jobs.worker import WorkerProcess
from core.project import Project

ROOT = Path(__file__).resolve().parents[3]
_HOLD = (
    "import sys, time\n"
    "from core.jobs.locks import stage_lock\n"
    "from core.project import Project\n"
    "project = Project.open(sys.argv[1])\n"
    "with stage_lock(project, sys.argv[2]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def holder() -> Iterator[Callable[[Path, str], subprocess.Popen[str]]]:
    """Start a process that holds a stage's lock until it is killed."""
    started: list[subprocess.Popen[str]] = []

    def hold(project_dir: Path, stage: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(project_dir), stage],
            stdout=subprocess.PIPE, text=True, env=_env(), cwd=ROOT,
        )  # fmt: skip
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        return process

    yield hold
    for process in started:
        process.kill()
        process.wait(timeout=30)


def _cli(*argv: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, argv)],
        capture_output=True, text=True, timeout=300, env=_env(), cwd=ROOT,
    )  # fmt: skip


def _counts(project_dir: Path) -> tuple[int, int]:
    with Project.open(project_dir) as project:
        return (
            int(project.store.scalar("SELECT COUNT(*) FROM runs")),
            int(project.store.scalar("SELECT COUNT(*) FROM audit")),
        )


@pytest.fixture
def imported(tmp_path, capsys) -> Path:
    data = tmp_path / "notes.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        labels = ("billing", "other")
        writer.writerows([(f"Call 617-555-01{i:02d} about invoice {i}.", labels[i % 2])
                          for i in range(20)])  # fmt: skip
    project = tmp_path / "proj"
    assert main(["init", str(project), "--labels", "billing,other", "--floor", "0.9"]) == 0
    assert main(["import", str(project), str(data), "--text", "text", "--label", "label"]) == 0
    capsys.readouterr()
    return project


def test_a_second_anonymize_exits_2_naming_the_first_and_records_nothing(imported, holder):
    first = holder(imported, "anonymize")
    before = _counts(imported)
    done = _cli("anonymize", imported, "--pattern-only", "--processes", "1")
    assert done.returncode == protocol.EXIT_USER_ERROR == 2
    assert done.stderr.startswith(
        f"stillroom: error: anonymize is already running on this project (pid {first.pid})"
    )
    assert "stillroom status DIR" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _counts(imported) == before  # no run row, no audit entry

    first.send_signal(signal.SIGKILL)  # the holder dies without releasing anything
    first.wait(timeout=30)
    done = _cli("anonymize", imported, "--pattern-only", "--processes", "1")
    assert done.returncode == 0, done.stderr
    with Project.open(imported) as project:
        assert [r.status for r in list_runs(project, "anonymize")] == ["succeeded"]


def test_a_second_worker_of_the_same_stage_does_no_work(project):
    first_id = create_run(project, SELFTEST, SelftestConfig(steps=400, delay_s=0.05))
    first = WorkerProcess(project.path, first_id)
    events = first.events()
    assert next(events)["kind"] == "started"  # it holds the lock from here on
    second_id = create_run(project, SELFTEST, SelftestConfig(steps=3))
    second = WorkerProcess(project.path, second_id)
    last = list(second.events())[-1]
    assert second.wait(timeout=60) == protocol.EXIT_USER_ERROR
    assert last["kind"] == "error"
    assert last["error_class"] == "StageBusyError"
    assert last["message"] == (
        f"selftest is already running on this project (pid {first.process.pid})"
    )
    assert get_run(project, second_id).status == "pending"  # never started, resumable later
    steps = project.store.scalar("SELECT COUNT(*) FROM metrics WHERE run_id = ?", (second_id,))
    assert steps == 0
    first.cancel()
    assert first.wait(timeout=60) == protocol.EXIT_OK
    assert WorkerProcess(project.path, second_id).wait(timeout=60) == protocol.EXIT_OK


def test_a_second_train_is_refused_before_it_creates_a_run(capsys, project, holder):
    holder(project.path, "train")
    code = main(["train", str(project.path), "--student", "/no/such/model"])
    assert code == 2
    assert "train is already running on this project (pid " in capsys.readouterr().err
    assert list_runs(project) == []


def test_other_stages_and_this_process_are_not_blocked(project, holder):
    holder(project.path, "anonymize")
    with pytest.raises(StageBusyError, match=r"anonymize is already running .*\(pid \d+\)"):
        ensure_stage_free(project, "anonymize")
    ensure_stage_free(project, "train")
    with stage_lock(project, "train"), stage_lock(project, "train"):  # re-entrant here
        run_id = create_run(project, SELFTEST, SelftestConfig(steps=2))
    assert lock_path(project, "train").read_text() == str(os.getpid())
    assert oct(lock_path(project, "train").stat().st_mode & 0o777) == "0o600"
    assert execute_run(project, run_id, lambda event: None).status == "succeeded"
