"""Which training settings a re-distillation starts from: the served student's, the base's
(followed back through earlier re-distillations), or a larger student cut afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.monitor.config import MonitorError, RedistillConfig
from core.monitor.redistill import start_config
from core.train.config import TrainConfig

TEACHER = "hf:teacher@abc?t=1"
RUNS = Path("/projects/copy/runs")
# Paths as stored by the project this one was copied from: the run id is what counts.
ORIGINAL = "/projects/original/runs"

TEACHER_RUN = TrainConfig(student="/models/minilm", teacher_id="labels:human")
FIRST = TrainConfig(derive=f"{ORIGINAL}/train-teacher/student", layers=3, teacher_id=TEACHER,
                    epochs=3.0)  # fmt: skip
AGAIN = TrainConfig(student=f"{ORIGINAL}/train-first/student", teacher_id=TEACHER, epochs=3.0)
AGAIN_TWICE = TrainConfig(student=f"{ORIGINAL}/train-again/student", teacher_id=TEACHER)
SEARCH_TRIAL = TrainConfig(derive="/models/teacher", layers=2, teacher_id=TEACHER,
                           parent_run="train-search")  # fmt: skip
RUNS_BY_ID = {"train-teacher": TEACHER_RUN, "train-first": FIRST, "train-again": AGAIN,
              "train-again-twice": AGAIN_TWICE, "train-trial": SEARCH_TRIAL}  # fmt: skip


def start(run_id: str, **options: object) -> TrainConfig:
    return start_config(RedistillConfig(**options), run_id, RUNS_BY_ID.get, RUNS)  # type: ignore[arg-type]


def test_from_the_student_trains_the_served_runs_student_further():
    config = start("train-again")
    assert config.student == str(RUNS / "train-again" / "student")
    assert config.derive is None
    assert config.layers is None
    assert config.epochs == 3.0


def test_from_the_base_follows_earlier_redistillations_back_to_the_first_student():
    assert start("train-again-twice", start="base") == FIRST
    assert start("train-first", start="base") == FIRST


def test_the_walk_back_stops_at_a_run_that_trained_for_another_teacher():
    student_of_the_teacher = TrainConfig(student=f"{ORIGINAL}/train-teacher/student",
                                         teacher_id=TEACHER)  # fmt: skip
    found = start_config(RedistillConfig(start="base"), "x",
                         {"x": student_of_the_teacher, **RUNS_BY_ID}.get, RUNS)  # fmt: skip
    assert found == student_of_the_teacher


def test_layers_cut_a_larger_student_from_the_bases_source():
    config = start("train-again-twice", layers=4)  # implies the base
    assert config.student is None
    assert config.derive == FIRST.derive
    assert config.layers == 4
    assert config.epochs == FIRST.epochs


def test_a_search_trial_starts_as_a_plain_run():
    config = start("train-trial", layers=3)
    assert config.parent_run is None
    assert not config.auto
    assert start("train-trial").parent_run is None


def test_layers_refuse_a_student_that_was_not_cut_from_a_larger_model():
    plain = {"train-plain": TrainConfig(student="/models/small", teacher_id=TEACHER)}
    with pytest.raises(MonitorError, match="--layers"):
        start_config(RedistillConfig(layers=4), "train-plain", plain.get, RUNS)


def test_an_unknown_training_run_is_refused_with_the_next_step():
    with pytest.raises(MonitorError, match="not in this project"):
        start("train-gone")


def test_layers_below_one_are_refused():
    with pytest.raises(MonitorError, match="at least 1"):
        RedistillConfig(layers=0).validate()


def test_a_student_below_the_slice_floor_is_told_to_try_one_more_layer_while_there_is_one():
    from core.monitor.redistill import larger_student_hint

    hint = larger_student_hint(Path("/p"), 3, 6)
    assert "stillroom redistill /p --layers 4" in hint
    assert "4 of the 6 layers" in hint
    assert larger_student_hint(Path("/p"), 6, 6) == ""
    assert larger_student_hint(Path("/p"), 0, 6) == ""


def test_a_slice_that_passes_on_its_point_but_not_its_interval_says_it_is_too_small():
    from core.monitor.config import SliceFigures
    from core.monitor.redistill import slice_interval_note

    close = SliceFigures("new bundle", 333, 0.898, 0.832, 0.861, 0.926)
    (note,) = slice_interval_note(close, 0.879)
    assert "[86.1%, 92.6%]" in note
    assert "333 rows cannot settle it" in note
    clear = SliceFigures("new bundle", 3000, 0.898, 0.832, 0.887, 0.908)
    assert slice_interval_note(clear, 0.879) == []
    below = SliceFigures("new bundle", 333, 0.862, 0.8, 0.82, 0.9)
    assert slice_interval_note(below, 0.879) == []  # already "below the floor"
    assert slice_interval_note(close, None) == []


def test_the_model_card_names_the_parent_and_the_kept_weights_of_a_redistilled_student():
    from core.export.card import _student

    manifest = {"lineage": {"student": {"base": "b", "parameters": 10},
                            "training": {"config": {"keep_best": False}}},
                "parent": {"manifest_sha256": "c23a" * 16}}  # fmt: skip
    text = _student(manifest)
    assert "The final weights were kept" in text
    assert f"`{'c23a' * 16}`" in text
    plain = _student({"lineage": {"student": {}, "training": {"config": {"keep_best": True}}}})
    assert "Re-distilled" not in plain
    assert "final weights" not in plain
