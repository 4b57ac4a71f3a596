"""The train screen's reads: the latest run, its curves (also after a kill), the GPUs."""

from __future__ import annotations

import json

from core.jobs.registry import TRAIN
from core.jobs.runs import create_run, mark_finished, mark_running
from core.train.config import TrainConfig
from core.train.overview import CurvePoint, cuda_devices, latest_train_run, read_curves


def test_curves_keep_loss_and_validation_points_and_skip_a_cut_line(tmp_path):
    path = tmp_path / "curves.jsonl"
    rows = [{"step": 2, "epoch": 0.5, "loss": 1.1, "learning_rate": 1e-4},
            {"step": 4, "eval_loss": 0.9, "eval_accuracy": 0.5}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 6, "lo')
    assert read_curves(path) == [
        CurvePoint("loss", 2, 1.1),
        CurvePoint("epoch", 2, 0.5),  # issue 20: the chart's epoch axis
        CurvePoint("eval_loss", 4, 0.9),
        CurvePoint("eval_accuracy", 4, 0.5),
    ]
    assert read_curves(tmp_path / "missing.jsonl") == []


def test_no_train_run_yet(train_project):
    assert latest_train_run(train_project) is None


def test_a_cancelled_run_is_resumable_with_its_curves(train_project, tiny_classifier):
    config = TrainConfig(student=str(tiny_classifier))
    run_id = create_run(train_project, TRAIN, config)
    (train_project.run_dir(run_id) / "curves.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    mark_finished(train_project, run_id, "cancelled", result={"resumable": True})
    view = latest_train_run(train_project)
    assert view is not None
    assert (view.run_id, view.status, view.resumable) == (run_id, "cancelled", True)
    assert view.config == config
    assert view.checkpoint_step == 0
    assert view.curves == (CurvePoint("loss", 1, 2.0),)


def test_a_run_whose_worker_died_shows_as_interrupted(train_project, tiny_classifier):
    run_id = create_run(train_project, TRAIN, TrainConfig(student="x"))
    mark_running(train_project, run_id, pid=2**22 + 12345)  # no such process
    view = latest_train_run(train_project)
    assert view is not None
    assert (view.status, view.resumable) == ("interrupted", True)


def test_cuda_devices_are_named_by_index():
    assert all(name.startswith("cuda:") for name in cuda_devices())
