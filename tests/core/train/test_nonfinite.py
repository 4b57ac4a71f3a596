"""NaN and infinity never become a student: broken soft labels are left out (or refused), a
non-finite loss stops training at once, and non-finite weights are never saved."""

from __future__ import annotations

import json
import math

import pytest
from train_helpers import TEACHER_ID, fill_project

from core.cli import main
from core.errors import TrainDivergedError
from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import list_runs
from core.project import Project
from core.reporter import NullReporter
from core.stage_states import stage_states
from core.train.config import TrainConfig
from core.train.data import is_distribution, usable_logprobs

torch = pytest.importorskip("torch")
from transformers import TrainerCallback  # noqa: E402

# What a server answering NaN logprobs (or a buggy renormalisation) leaves in the store.
BROKEN = ("[NaN, NaN, NaN]", "[Infinity, 0.0, 0.0]", "[-0.5, 1.0, 0.5]", "[0.2, 0.2, 0.2]",
          '["a", null, 1]')  # fmt: skip


def _config(student, **overrides):
    values = dict(student=str(student), epochs=1, batch_size=4, checkpoint_every=2,
                  early_stopping=0, device="cpu", lr=1e-3)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def _plant(project: Project, vectors, split="train") -> list[int]:
    """Overwrite the teacher outputs of the first records of ``split``, still marked valid."""
    ids = [r["id"] for r in project.store.query(
        "SELECT id FROM records WHERE split = ? ORDER BY id", (split,))]  # fmt: skip
    with project.store.transaction() as conn:
        for record, vector in zip(ids, vectors, strict=False):
            conn.execute("UPDATE teacher_outputs SET probabilities = ?, valid = 1 "
                         "WHERE record_id = ?", (vector, record))  # fmt: skip
    return ids[: len(vectors)]


def _all_finite(model_dir) -> bool:
    from safetensors.torch import load_file

    weights = load_file(str(model_dir / "model.safetensors"))
    return all(bool(torch.isfinite(t).all()) for t in weights.values() if t.is_floating_point())


def test_broken_soft_labels_are_left_out_counted_and_named(train_project, tiny_classifier):
    _plant(train_project, BROKEN)
    _plant(train_project, BROKEN[:2], split="validation")
    result = run_stage(train_project, TRAIN, _config(tiny_classifier), reporter=NullReporter())
    assert result.skipped == {"invalid_soft_label": 5}
    assert result.train_examples == 24 - 5
    assert result.validation_examples == 8 - 2
    assert any("5 training records have teacher probabilities that are not a probability "
               "distribution" in note for note in result.notes)  # fmt: skip
    assert _all_finite(result.model_dir)
    curves = [json.loads(line) for line in result.curves_path.read_text().splitlines()]
    assert all(math.isfinite(p["loss"]) for p in curves if "loss" in p)
    start = train_project.store.query("SELECT details FROM audit WHERE action = 'train.start'")
    assert json.loads(start[0]["details"])["skipped"] == {"invalid_soft_label": 5}


def test_mostly_broken_soft_labels_refuse_training_in_one_line(capsys, train_project,
                                                                tiny_classifier):  # fmt: skip
    _plant(train_project, ["[NaN, NaN, NaN]"] * 13)  # 13 of the 24 train outputs
    code = main(["train", str(train_project.path), "--student", str(tiny_classifier),
                 "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "13 of the teacher's 24 outputs for the train split are not probability " in err
    assert len(err.strip().splitlines()) == 1
    assert not (train_project.runs_dir / list_runs(train_project)[-1].id / "student").exists()


def test_a_nan_loss_stops_training_at_once_and_nothing_is_saved(capsys, train_project,
                                                                tiny_classifier):  # fmt: skip
    # A learning rate of 1e30 overflows the weights in one step: the next loss is NaN.
    code = main(["train", str(train_project.path), "--student", str(tiny_classifier),
                 "--epochs", "2", "--batch-size", "4", "--checkpoint-every", "2",
                 "--device", "cpu", "--early-stopping", "0", "--lr", "1e30"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "training diverged: the training loss became NaN or infinite at step 2 of 12" in err
    assert "--lr" in err
    run = list_runs(train_project, "train")[-1]
    assert (run.status, run.error_class) == ("failed", "TrainDivergedError")
    run_dir = train_project.run_dir(run.id)
    assert not (run_dir / "student").exists()
    assert not list((run_dir / "checkpoints").glob("checkpoint-*"))  # not even step 2's
    assert stage_states(train_project)["train"].state == "needs_attention"


class PoisonAtTheEnd(TrainerCallback):
    """Plants a NaN in one weight after the last step, where no loss would notice it."""

    def __init__(self, name_part: str) -> None:
        self.name_part = name_part

    def on_train_end(self, args, state, control, model=None, **kwargs):
        weight = next(p for n, p in model.named_parameters() if self.name_part in n)
        with torch.no_grad():
            weight.view(-1)[0] = float("nan")


@pytest.mark.parametrize(("lora", "target"), [(False, "classifier.weight"), (True, "lora_B")])
def test_non_finite_weights_are_never_saved(train_project, tiny_classifier, lora, target):
    # Merging LoRA spreads the one NaN over a row of the merged weight: still one tensor.
    pattern = r"has \d+ NaN or infinite weights \(in 1 of \d+ tensors\); it was not saved"
    with pytest.raises(TrainDivergedError, match=pattern):
        run_stage(train_project, TRAIN, _config(tiny_classifier, lora=lora),
                  reporter=NullReporter(), callbacks=[PoisonAtTheEnd(target)])  # fmt: skip
    run = list_runs(train_project, "train")[-1]
    assert (run.status, run.error_class) == ("failed", "TrainDivergedError")
    assert not (train_project.run_dir(run.id) / "student").exists()
    assert not list(train_project.run_dir(run.id).glob(".student-*"))


@pytest.mark.parametrize(
    ("vector", "ok"),
    [((0.7, 0.2, 0.1), True), ((1.0, 0.0, 0.0), True), ((0.3333, 0.3333, 0.3334), True),
     ((math.nan, 0.5, 0.5), False), ((math.inf, 0.0, 0.0), False), ((-0.1, 0.6, 0.5), False),
     ((0.5, 0.4, 0.0), False), ((), False), (None, False)],
)  # fmt: skip
def test_what_counts_as_a_distribution(vector, ok):
    assert is_distribution(vector) is ok


@pytest.mark.parametrize(
    ("entries", "ok"),
    [([{"logprob": -0.1, "top": {"a": -2.0, "b": -math.inf}}], True),
     ([{"logprob": math.nan, "top": {}}], False),
     ([{"logprob": -0.1, "top": {"a": math.inf}}], False),
     ([{"logprob": 0.5}], False),
     ([{"logprob": None}], False)],
)  # fmt: skip
def test_what_counts_as_usable_logprobs(entries, ok):
    assert usable_logprobs(entries) is ok


def test_broken_logprobs_fall_back_to_the_teacher_text(tmp_path):
    from core.project import QualityFloor
    from core.store.db import utc_now
    from core.train.data import load_data

    project = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.9))
    ids = fill_project(project, 10, generation=True)
    good = [{"token": "a", "id": 5, "logprob": -0.2, "top": {"b": -1.5}}]
    bad = [{"token": "a", "id": 5, "logprob": float("nan"), "top": {}}]
    with project.store.transaction() as conn:
        for i, record in enumerate(ids):
            conn.execute(
                "INSERT INTO teacher_outputs (record_id, teacher_id, valid, text, "
                "token_logprobs, created_at) VALUES (?, ?, 1, 'an answer', ?, ?)",
                (record, TEACHER_ID, json.dumps(bad if i < 3 else good), utc_now()),
            )
    data = load_data(project, "generation", (TEACHER_ID, ""), allow_raw_text=False,
                     hard_labels="human", alpha=0.5, seed=1)  # fmt: skip
    assert data.skipped == {"invalid_token_logprobs": 3}
    broken = {e.record_id for e in data.train if e.token_logprobs is None}
    assert broken == set(ids[:3])
    assert all(e.teacher_text == "an answer" for e in data.train)
    project.close()
