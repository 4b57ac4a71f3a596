"""A student chosen by ``train --auto``: the evaluate report shows the search's
quality-vs-latency frontier; a student trained on its own has none."""

from __future__ import annotations

from evaluate_helpers import TEACHER_ID, TINY, fake_train_run

from core.evaluate.config import EvaluateConfig
from core.evaluate.inputs import auto_frontier
from core.evaluate.plots import inline_svg
from core.jobs.execute import run_stage
from core.jobs.registry import EVALUATE, TRAIN
from core.jobs.runs import latest
from core.train.config import TrainConfig, TrialFigures
from core.train.frontier import plot_frontier

FAST = EvaluateConfig(latency_runs=3, threads=1, score_shipped=False, sample_sizes=TINY)


def _trial(run_id: str, layers: int, retention: float, passed: bool) -> TrialFigures:
    return TrialFigures(run_id, layers, 5e-5, 0.5, 1.0, retention, retention - 0.05,
                        retention + 0.03, 0.8, 0.7, 2.0 * layers, 1000 * layers, 5.0,
                        passed)  # fmt: skip


def test_the_report_shows_the_frontier_of_the_auto_search(eval_project, trained_student):
    plain = latest(eval_project, TRAIN)
    assert plain is not None
    assert auto_frontier(eval_project, plain.run) is None  # trained on its own
    auto = TrainConfig(teacher_id=TEACHER_ID, derive="/models/base", auto=True)
    folder = fake_train_run(eval_project, trained_student, config=auto)
    trials = [_trial("t1", 1, 0.7, False), _trial("t2", 2, 0.97, True)]
    svg = plot_frontier(trials, 0.9, folder.parent)
    result = run_stage(eval_project, EVALUATE, FAST)
    page = result.report_html.read_text(encoding="utf-8")
    assert "Search frontier" in page
    assert folder.parent.name in page
    assert inline_svg(svg.read_text(encoding="utf-8")) in page
    assert "<?xml" not in page
    trial = TrainConfig(teacher_id=TEACHER_ID, student="/x", parent_run=folder.parent.name)
    fake_train_run(eval_project, trained_student, config=trial)
    found = latest(eval_project, TRAIN)
    assert found is not None
    assert auto_frontier(eval_project, found.run) == (folder.parent.name, svg)
