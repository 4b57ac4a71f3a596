"""Run history, comparing two runs and choosing the student Evaluate and Export use
(issue 20)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from evaluate_helpers import finish_run, train_result

from core.errors import RunError
from core.evaluate.inputs import find_student
from core.jobs import runs
from core.jobs.history import compare_runs, run_history
from core.jobs.registry import TRAIN
from core.train.chosen import choose_student, chosen_student
from core.train.config import TrainConfig


def _train(project, *, alpha, layers, best):
    run_id = runs.create_run(project, TRAIN, TrainConfig(alpha=alpha, layers=layers))
    folder = project.run_dir(run_id) / "student"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    curves = project.run_dir(run_id) / "curves.jsonl"
    curves.write_text(
        "\n".join(json.dumps({"step": s, "loss": 1.0 / s, "eval_accuracy": best * s / 4})
                  for s in range(1, 5)), encoding="utf-8",
    )  # fmt: skip
    result = dataclasses.replace(
        train_result(run_id, folder, "t"), best_val_metric=best, curves_path=curves
    )
    finish_run(project, run_id, result)
    return run_id, folder


@pytest.fixture
def two_runs(eval_project):
    first = _train(eval_project, alpha=0.5, layers=3, best=0.71)
    second = _train(eval_project, alpha=0.9, layers=2, best=0.64)
    return eval_project, first, second


def test_history_lists_runs_newest_first_with_settings_figures_and_who(two_runs):
    project, (first, _), (second, _) = two_runs
    rows = [r for r in run_history(project, "train") if r.id in (first, second)]
    assert [r.id for r in rows] == [second, first]
    newest = rows[0]
    assert ("alpha", "0.9") in newest.settings
    assert ("layers", "2") in newest.settings
    assert "best macro_f1 0.640" in newest.headline
    assert newest.who
    assert newest.seconds is not None
    assert newest.chosen  # the newest student is used until another is chosen
    assert any(r.stage == "train" for r in run_history(project))  # the project-wide view


def test_compare_two_runs_lines_up_settings_figures_and_curves(two_runs):
    project, (first, _), (second, _) = two_runs
    comparison = compare_runs(project, first, second)
    assert ("alpha", "0.5", "0.9") in comparison.settings
    assert ("layers", "3", "2") in comparison.settings
    assert ("best_val_metric", "0.71", "0.64") in comparison.figures
    loss_first, loss_second = comparison.curves["loss"]
    assert len(loss_first) == len(loss_second) == 4


def test_choosing_the_earlier_student_is_used_by_evaluate_and_export_and_audited(two_runs):
    project, (first, first_dir), (second, _) = two_runs
    assert find_student(project, None).model_dir == project.run_dir(second) / "student"
    choose_student(project, first)
    assert chosen_student(project).run.id == first
    assert find_student(project, None).model_dir == first_dir
    assert next(r for r in run_history(project, "train") if r.id == first).chosen
    audit = project.store.query("SELECT details FROM audit WHERE action = 'student.choose'")
    assert json.loads(audit[-1]["details"]) == {"run": first, "previous": None}
    choose_student(project, None)
    assert chosen_student(project).run.id == second


def test_only_a_succeeded_train_run_can_be_chosen(two_runs):
    project, _, _ = two_runs
    stopped = runs.create_run(project, TRAIN, TrainConfig(alpha=0.1))
    runs.mark_finished(project, stopped, "cancelled")
    with pytest.raises(RunError, match="did not train a student"):
        choose_student(project, stopped)
