"""Out of memory: a callback raises torch's real OutOfMemoryError mid-training."""

from __future__ import annotations

import pytest

from core.errors import TrainOutOfMemoryError
from core.jobs import protocol
from core.jobs.execute import execute_run, run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import create_run, get_run, list_runs
from core.reporter import NullReporter
from core.train import trainer as trainer_module
from core.train.config import TrainConfig

torch = pytest.importorskip("torch")
from transformers import TrainerCallback  # noqa: E402


class OutOfMemoryAt(TrainerCallback):
    """Raises the exception CUDA raises, at a given step, ``times`` times."""

    def __init__(self, step: int, times: int = 1) -> None:
        self.step, self.left = step, times

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step and self.left:
            self.left -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def _config(student, **overrides):
    values = dict(student=str(student), epochs=2, batch_size=4, checkpoint_every=2,
                  early_stopping=0, device="cpu")  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def test_out_of_memory_says_what_to_change_and_leaves_the_run_resumable(
    train_project, tiny_classifier
):
    with pytest.raises(TrainOutOfMemoryError) as raised:
        run_stage(train_project, TRAIN, _config(tiny_classifier), reporter=NullReporter(),
                  callbacks=[OutOfMemoryAt(5)])  # fmt: skip
    error = raised.value
    assert error.exit_code == protocol.EXIT_OUT_OF_MEMORY
    assert "ran out of host memory at batch size 4" in error.message
    assert "--batch-size 2 --grad-accum 2" in error.hint
    assert "--max-length" in error.hint
    assert "--lora" in error.hint
    assert "--gradient-checkpointing" in error.hint
    assert error.suggested_batch_size == 2
    run = list_runs(train_project, "train")[-1]
    assert (run.status, run.error_class) == ("failed", "TrainOutOfMemoryError")
    assert train_project.store.scalar("PRAGMA integrity_check") == "ok"
    # The checkpoint at step 4 survives; the same command resumes from it.
    resumed = run_stage(train_project, TRAIN, _config(tiny_classifier), reporter=NullReporter())
    assert (resumed.run_id, resumed.resumed_from_step) == (run.id, 4)


def test_auto_retry_halves_the_batch_once(train_project, tiny_classifier):
    result = run_stage(train_project, TRAIN, _config(tiny_classifier, auto_retry_oom=True),
                       reporter=NullReporter(), callbacks=[OutOfMemoryAt(5)])  # fmt: skip
    assert (result.batch_size, result.grad_accum, result.oom_retries) == (2, 2, 1)
    assert result.global_step == 12  # the same optimizer steps as at batch size 4
    assert any("retried from step 4 at batch size 2" in note for note in result.notes)
    stored = get_run(train_project, result.run_id).config
    assert (stored["batch_size"], stored["grad_accum"]) == (2, 2)


def test_a_second_out_of_memory_is_not_retried(train_project, tiny_classifier):
    with pytest.raises(TrainOutOfMemoryError, match="even after a retry at half"):
        run_stage(train_project, TRAIN, _config(tiny_classifier, auto_retry_oom=True),
                  reporter=NullReporter(), callbacks=[OutOfMemoryAt(5, times=2)])  # fmt: skip


def test_the_worker_path_exits_with_the_out_of_memory_code(
    train_project, tiny_classifier, monkeypatch
):
    build = trainer_module.build_trainer

    def with_oom(*args, callbacks, **kwargs):
        return build(*args, callbacks=[*callbacks, OutOfMemoryAt(3)], **kwargs)

    monkeypatch.setattr(trainer_module, "build_trainer", with_oom)
    run_id = create_run(train_project, TRAIN, _config(tiny_classifier))
    seen = []
    outcome = execute_run(train_project, run_id, seen.append)
    assert outcome.exit_code == protocol.EXIT_OUT_OF_MEMORY
    assert isinstance(outcome.error, TrainOutOfMemoryError)
    error = [e for e in seen if e["kind"] == "error"][-1]
    assert error["error_class"] == "TrainOutOfMemoryError"
    assert "--resume " + run_id in error["hint"]
