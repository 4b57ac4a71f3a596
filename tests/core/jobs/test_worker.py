"""The worker-process protocol, with real child processes running the selftest stage."""

from __future__ import annotations

import os
import signal
import time

import pytest

from core.jobs import protocol
from core.jobs.execute import execute_run
from core.jobs.registry import SELFTEST
from core.jobs.runs import create_run, events, get_run, reconcile_runs
from core.jobs.selftest import SelftestConfig
from core.jobs.worker import WorkerProcess


def _steps_done(project, run_id):
    rows = project.store.query("SELECT step FROM metrics WHERE run_id = ? ORDER BY step", (run_id,))
    return [r["step"] for r in rows]


def test_worker_runs_a_stage_and_streams_events(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=5))
    worker = WorkerProcess(project.path, run_id)
    seen = list(worker.events())
    assert worker.wait(timeout=30) == protocol.EXIT_OK
    kinds = [e["kind"] for e in seen]
    assert kinds[0] == "started"
    assert kinds[-1] == "finished"
    assert kinds.count("metric") == 5
    assert seen[-1]["status"] == "succeeded"
    assert all(e["run"] == run_id and e["v"] == protocol.PROTOCOL_VERSION for e in seen)
    assert get_run(project, run_id).status == "succeeded"
    assert get_run(project, run_id).result == {"steps": 5, "resumed_from": 0}
    stored = [e["kind"] for e in events(project, run_id)]
    assert stored[0] == "started"
    assert "finished" in stored


def test_cancel_stops_cleanly_and_the_run_resumes(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=400, delay_s=0.02))
    worker = WorkerProcess(project.path, run_id)
    for event in worker.events():
        if event["kind"] == "metric" and event["step"] >= 3:
            worker.cancel()
            break
    assert worker.wait(timeout=30) == protocol.EXIT_OK
    assert get_run(project, run_id).status == "cancelled"
    done = _steps_done(project, run_id)
    assert 3 <= len(done) < 400

    outcome = execute_run(project, run_id, lambda event: None)
    assert outcome.status == "succeeded"
    assert outcome.result.resumed_from == len(done)
    assert _steps_done(project, run_id) == list(range(1, 401))


def test_second_cancel_kills(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=10_000, delay_s=0.05))
    worker = WorkerProcess(project.path, run_id)
    next(worker.events())
    worker.cancel()
    worker.cancel()
    assert worker.wait(timeout=30) == -signal.SIGKILL


def test_sigterm_is_a_cancel_request(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=10_000, delay_s=0.02))
    worker = WorkerProcess(project.path, run_id)
    next(worker.events())
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == protocol.EXIT_OK
    assert get_run(project, run_id).status == "cancelled"


def test_killed_worker_leaves_a_consistent_resumable_store(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=300, delay_s=0.01))
    worker = WorkerProcess(project.path, run_id)
    for event in worker.events():
        if event["kind"] == "metric" and event["step"] >= 20:
            os.kill(worker.process.pid, signal.SIGKILL)
            break
    worker.wait(timeout=30)
    assert project.store.scalar("PRAGMA integrity_check") == "ok"
    assert get_run(project, run_id).status == "running"
    assert reconcile_runs(project) == [run_id]
    assert get_run(project, run_id).status == "interrupted"

    done = _steps_done(project, run_id)
    assert done == list(range(1, len(done) + 1))  # no gap, no half-written step
    resumed = WorkerProcess(project.path, run_id)
    started = next(resumed.events())
    assert started["resumed"] is True
    assert resumed.wait(timeout=60) == protocol.EXIT_OK
    assert _steps_done(project, run_id) == list(range(1, 301))


def test_a_crash_is_recorded_without_its_message(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=5, fail_at=2))
    worker = WorkerProcess(project.path, run_id)
    last = list(worker.events())[-1]
    assert worker.wait(timeout=30) == protocol.EXIT_CRASH
    assert last["kind"] == "error"
    assert last["error_class"] == "RuntimeError"
    assert "worker.log" in last["hint"]
    run = get_run(project, run_id)
    assert (run.status, run.error_class) == ("failed", "RuntimeError")
    log = (project.path / "runs" / run_id / "worker.log").read_text()
    assert "run_selftest" in log
    assert "at step 2" not in log  # messages may quote data; only the stack is kept


def test_unknown_run_is_a_user_error(project):
    worker = WorkerProcess(project.path, "selftest-nope")
    last = list(worker.events())[-1]
    assert worker.wait(timeout=30) == protocol.EXIT_USER_ERROR
    assert last["kind"] == "error"
    assert "no run" in last["message"]


def test_a_finished_run_is_not_run_twice(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=1))
    assert execute_run(project, run_id, lambda e: None).status == "succeeded"
    with pytest.raises(Exception, match="only pending or stopped runs"):
        execute_run(project, run_id, lambda e: None)


def test_progress_events_are_throttled(project):
    run_id = create_run(project, SELFTEST, SelftestConfig(steps=200))
    seen = []
    start = time.monotonic()
    execute_run(project, run_id, seen.append)
    elapsed = time.monotonic() - start
    progress = [e for e in seen if e["kind"] == "progress"]
    assert progress[-1]["fraction"] == 1.0
    assert len(progress) <= 2 + elapsed / 0.2


def test_protocol_ignores_foreign_lines():
    assert protocol.decode("Some library printed this") is None
    assert protocol.decode('{"v": 99, "kind": "progress"}') is None
    assert protocol.decode(protocol.encode({"kind": "progress", "fraction": 0.5}))["fraction"]
