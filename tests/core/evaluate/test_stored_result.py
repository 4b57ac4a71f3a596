"""The stored evaluate result (what the desktop's evaluate page shows), read back typed from
the store after a real run: every figure the page shows, and results of older releases."""

from __future__ import annotations

import json

import pytest
from evaluate_helpers import (
    TINY,
    add_teacher_outputs,
    fake_train_run,
    fill_records,
    make_project,
    unpack_legacy,
)

from core.evaluate.config import EvaluateConfig, EvaluateResult
from core.evaluate.figures import RELIABILITY_FILE, read_reliability
from core.jobs.execute import run_stage
from core.jobs.registry import EVALUATE
from core.jobs.runs import latest_result
from core.project import Project

FAST = EvaluateConfig(
    latency_runs=3, threads=1, score_shipped=False, quantize_baseline=False, sample_sizes=TINY
)


def evaluate(project, config: EvaluateConfig = FAST) -> tuple[str, EvaluateResult]:
    result = run_stage(project, EVALUATE, config)
    return result.run_id, result


def last_evaluation(project) -> EvaluateResult | None:
    """The newest evaluation as a reopened project reads it from the store."""
    with Project.open(project.path) as reopened:
        return latest_result(reopened, EVALUATE)


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
    assert view == result
    assert view.run_id == run_id
    assert view.passed is result.passed is True, result.failures
    test = view.set("test")
    student = view.row("test", "student")
    assert student.retention == metric(project, run_id, "test", "student.retention")
    # A passing verdict names the bound it met, in the gate's own words.
    assert view.reason().startswith("retention ")
    assert "meets the floor 0.5" in view.reason()
    assert [c.label for c in test.classes] == ["billing", "clinical", "other"]
    billing = test.classes[0]
    assert billing.student[2] == metric(project, run_id, "test", "student.f1.billing")
    assert billing.teacher is not None
    compared = metric(project, run_id, "test", "set.compared")
    assert sum(map(sum, test.confusion)) == compared
    assert test.confusion[1][2] == metric(
        project, run_id, "test", "student.confusion.clinical.other"
    )
    assert view.report_html.is_file()
    assert view.report_html.name == "report.html"


def test_speed_and_reliability_bins_survive_a_reopen(eval_project):
    project = eval_project
    run_id, _ = evaluate(project)
    view = last_evaluation(project)
    speed = {row.model: row for row in view.speed}
    assert speed["student"].p95_ms >= speed["student"].p50_ms > 0
    assert speed["student"].threads == 1
    assert speed["student"].size_mb > 0
    curves = {(c.split, c.model, c.calibrated): c for c in read_reliability(view.reliability_file)}
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
    _, result = evaluate(project, EvaluateConfig(measure_latency=False, score_shipped=False))
    view = last_evaluation(project)
    assert view.passed is False
    assert "is above the ceiling 0" in view.reason()
    assert view.reason() == "; ".join(result.failures)
    assert view.set("test").verdict.passed is False
    speed = {row.model: row for row in view.speed}
    # Not timed: no latency, but the size is known and the teacher's recorded cost is kept.
    assert speed["student"].p50_ms is None
    assert speed["student"].size_mb > 0
    assert speed["teacher"].cost_per_million > 0
    project.close()


def test_a_damaged_reliability_file_reads_as_no_curves(tmp_path):
    (tmp_path / RELIABILITY_FILE).write_text(json.dumps({"version": 1, "curves": [{}]}))
    assert read_reliability(tmp_path / RELIABILITY_FILE) == []
    (tmp_path / RELIABILITY_FILE).write_text("not json")
    assert read_reliability(tmp_path / RELIABILITY_FILE) == []
    assert read_reliability(tmp_path / "missing" / RELIABILITY_FILE) == []
    assert read_reliability(None) == []


def test_a_result_stored_by_release_0_1_still_reads(tmp_path):
    with Project.open(unpack_legacy(tmp_path)) as project:
        result = latest_result(project, EVALUATE)
        assert result is not None
        assert result.complete is False
        assert result.sets == ()
        assert result.speed == ()
        assert result.reliability_file is None
        assert result.reason() == "; ".join(result.failures)
        assert result.row("test", "student").retention == pytest.approx(0.328125)
        # Its paths are this copy's: the migration made them relative to the project.
        assert result.report_html == project.path / "runs" / result.run_id / "report.html"
        assert result.report_html.is_file()
