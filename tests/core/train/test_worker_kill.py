"""A real worker process, killed with SIGKILL mid-epoch, resumes from its last checkpoint and
ends with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal

import pytest

from core.jobs import protocol
from core.jobs.execute import execute_run, run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import create_run, get_run, reconcile_runs
from core.jobs.worker import WorkerProcess
from core.reporter import NullReporter
from core.train.config import TrainConfig

safetensors = pytest.importorskip("safetensors.torch")
CHECKPOINT_EVERY = 4


def test_kill_9_then_resume(train_project, tiny_classifier):
    config = TrainConfig(student=str(tiny_classifier), epochs=12, batch_size=4,
                         checkpoint_every=CHECKPOINT_EVERY, early_stopping=0, device="cpu",
                         lr=5e-4)  # fmt: skip
    straight = run_stage(train_project, TRAIN, config, reporter=NullReporter())

    run_id = create_run(train_project, TRAIN, config)
    worker = WorkerProcess(train_project.path, run_id)
    seen = 0
    for event in worker.events():
        if event["kind"] == "metric" and (event.get("step") or 0) >= 3 * CHECKPOINT_EVERY + 2:
            seen = event["step"]
            os.kill(worker.process.pid, signal.SIGKILL)
            break
    worker.wait(timeout=60)
    assert seen, "the worker finished before it could be killed"
    assert worker.process.returncode == -signal.SIGKILL
    assert train_project.store.scalar("PRAGMA integrity_check") == "ok"
    assert reconcile_runs(train_project) == [run_id]

    outcome = execute_run(train_project, run_id, lambda event: None)
    assert outcome.status == "succeeded", outcome.error
    result = outcome.result
    # At most one checkpoint interval is lost.
    assert 0 < result.resumed_from_step < straight.global_step
    assert result.resumed_from_step >= seen - CHECKPOINT_EVERY
    assert get_run(train_project, run_id).status == "succeeded"
    final = f"checkpoints/checkpoint-{straight.global_step}/model.safetensors"
    for name in (final, "student/model.safetensors"):
        a = safetensors.load_file(str(straight.model_dir.parent / name))
        b = safetensors.load_file(str(train_project.run_dir(run_id) / name))
        assert all((a[k] == b[k]).all() for k in a), name
    assert outcome.exit_code == protocol.EXIT_OK
