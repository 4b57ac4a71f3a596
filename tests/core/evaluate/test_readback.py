"""Reading the last evaluation back (what the desktop's evaluate page shows) from a real run."""

from __future__ import annotations

import json

import pytest
from evaluate_helpers import add_teacher_outputs, fake_train_run, fill_records, make_project

from core.evaluate.config import EvaluateConfig, config_to_dict
from core.evaluate.figures import RELIABILITY_FILE, read_reliability
from core.evaluate.readback import last_evaluation
from core.jobs.execute import execute_run
from core.jobs.runs import create_run

FAST = EvaluateConfig(latency_runs=3, threads=1, extra_columns=False, quantize_baseline=False)


def evaluate(project, config: EvaluateConfig = FAST) -> tuple[str, dict]:
    run_id = create_run(project, "evaluate", config_to_dict(config))
    outcome = execute_run(project, run_id, lambda event: None)
    assert outcome.error is None, outcome.error and outcome.error.one_line()
    return run_id, outcome.result


@pytest.fixture
def passing_project(tmp_path, trained_student):
    """90 records with teacher answers and a trained student, under a floor it meets."""
    project = make_project(tmp_path, "passing", min_retention=0.5)
    fill_records(project, 90)
    add_teacher_outputs(project)
    fake_train_run(project, trained_student)
    yield project
    project.close()


def metric(project, run_id, split, name) -> float:
    return project.store.scalar(
        "SELECT value FROM metrics WHERE run_id = ? AND split = ? AND name = ?",
        (run_id, split, name),
    )


def test_nothing_to_read_before_an_evaluation(eval_project):
    assert last_evaluation(eval_project) is None


def test_the_view_holds_the_runs_own_figures(passing_project):
    project = passing_project
    run_id, result = evaluate(project)
    view = last_evaluation(project)
    assert view is not None
    assert view.run_id == run_id
    assert view.passed is result["passed"] is True, result["failures"]
    test = view.set("test")
    student = test.model("student")
    assert student.retention == metric(project, run_id, "test", "student.retention")
    # A passing verdict names the bound it met, in the gate's own words.
    assert view.reason.startswith("retention ")
    assert "meets the floor 0.5" in view.reason
    assert [c.label for c in test.classes] == ["billing", "clinical", "other"]
    billing = test.classes[0]
    assert billing.student[2] == metric(project, run_id, "test", "student.f1.billing")
    assert billing.teacher is not None
    compared = metric(project, run_id, "test", "set.compared")
    assert sum(map(sum, test.confusion)) == compared
    assert test.confusion[1][2] == metric(
        project, run_id, "test", "student.confusion.clinical.other"
    )
    assert view.report_html is not None
    assert view.report_html.name == "report.html"


def test_speed_and_reliability_bins_survive_a_reopen(eval_project):
    project = eval_project
    run_id, _ = evaluate(project)
    view = last_evaluation(project)
    speed = {row.model: row for row in view.speed}
    assert speed["student"].p95_ms >= speed["student"].p50_ms > 0
    assert speed["student"].threads == 1
    assert speed["student"].size_mb > 0
    curves = {(c.split, c.model, c.calibrated): c for c in view.reliability}
    before, after = curves["test", "student", False], curves["test", "student", True]
    compared = metric(project, run_id, "test", "set.compared")
    assert sum(before.counts) == sum(after.counts) == compared
    assert before.ece == metric(project, run_id, "test", "student.ece")
    assert after.ece == metric(project, run_id, "test", "student.ece_calibrated")
    assert len(before.edges) == len(before.counts) + 1 == 16


def test_a_failed_floor_reads_as_the_gates_sentence(tmp_path, trained_student):
    project = make_project(tmp_path, "strict", min_retention=0.9, max_ece=0.0)
    fill_records(project, 90)
    add_teacher_outputs(project)
    fake_train_run(project, trained_student)
    _, result = evaluate(project, EvaluateConfig(measure_latency=False, extra_columns=False))
    view = last_evaluation(project)
    assert view.passed is False
    assert "is above the ceiling 0" in view.reason
    assert view.reason == "; ".join(result["failures"])
    assert view.set("test").passed is False
    speed = {row.model: row for row in view.speed}
    # Not timed: no latency, but the size is known and the teacher's recorded cost is kept.
    assert speed["student"].p50_ms is None
    assert speed["student"].size_mb > 0
    assert speed["teacher"].cost_per_million > 0
    project.close()


def test_a_damaged_reliability_file_reads_as_no_curves(tmp_path):
    (tmp_path / RELIABILITY_FILE).write_text(json.dumps({"version": 1, "curves": [{}]}))
    assert read_reliability(tmp_path) == []
    (tmp_path / RELIABILITY_FILE).write_text("not json")
    assert read_reliability(tmp_path) == []
    assert read_reliability(tmp_path / "missing") == []
