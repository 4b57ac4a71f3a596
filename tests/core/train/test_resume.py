"""Cancel and resume: the resumed run ends with exactly the weights of an uninterrupted one."""

from __future__ import annotations

import pytest

from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import get_run, list_runs
from core.reporter import NullReporter, RecordingReporter
from core.train.config import TrainConfig

safetensors = pytest.importorskip("safetensors.torch")


def _weights(folder):
    return safetensors.load_file(str(folder / "model.safetensors"))


def _final_checkpoint(result):
    return result.model_dir.parent / "checkpoints" / f"checkpoint-{result.global_step}"


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key


def _config(student, **overrides):
    values = dict(student=str(student), epochs=3, batch_size=4, checkpoint_every=4,
                  early_stopping=0, device="cpu", lr=5e-4)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_cancel_then_resume_gives_the_uninterrupted_weights(train_project, tiny_classifier, lora):
    config = _config(tiny_classifier, lora=lora)
    straight = run_stage(train_project, TRAIN, config, reporter=NullReporter())

    # 24 training examples / batch 4 = 6 steps per epoch: cancel mid-epoch 2, off a
    # checkpoint boundary (checkpoints every 4 steps), so the cancel itself must save.
    reporter = RecordingReporter(cancel_after=9)
    with pytest.raises(Exception, match="cancelled at step 9"):
        run_stage(train_project, TRAIN, config, reporter=reporter)
    cancelled = list_runs(train_project, "train")[-1]
    assert cancelled.status == "cancelled"
    assert (train_project.run_dir(cancelled.id) / "checkpoints" / "checkpoint-9").is_dir()

    resumed = run_stage(train_project, TRAIN, config, reporter=NullReporter())
    assert resumed.run_id == cancelled.id
    assert (resumed.resumed, resumed.resumed_from_step) == (True, 9)
    assert get_run(train_project, cancelled.id).status == "succeeded"
    assert resumed.global_step == straight.global_step == 18
    final = "adapter_model.safetensors" if lora else "model.safetensors"
    _assert_same(
        safetensors.load_file(str(_final_checkpoint(straight) / final)),
        safetensors.load_file(str(_final_checkpoint(resumed) / final)),
    )
    _assert_same(_weights(straight.model_dir), _weights(resumed.model_dir))
    steps = [row["step"] for row in _curve(resumed)]
    assert steps == sorted(steps)  # no point logged twice across the resume


def _curve(result):
    import json

    return [json.loads(line) for line in result.curves_path.read_text().splitlines()]


def test_a_checkpoint_cut_short_by_a_kill_is_skipped_and_removed(tmp_path):
    from core.train.checkpoints import latest_checkpoint, trim_curves

    root = tmp_path / "checkpoints"
    complete, partial = root / "checkpoint-4", root / "checkpoint-8"
    for folder in (complete, partial):
        folder.mkdir(parents=True)
        for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
            (folder / name).write_bytes(b"x")
    (complete / "trainer_state.json").write_text('{"global_step": 4}')  # written last
    assert latest_checkpoint(tmp_path) == complete
    assert not partial.exists()
    (tmp_path / "curves.jsonl").write_text('{"step": 2}\n{"step": 4}\n{"step": 6}\n{"ste')
    trim_curves(tmp_path, 4)
    assert (tmp_path / "curves.jsonl").read_text() == '{"step": 2}\n{"step": 4}\n'
