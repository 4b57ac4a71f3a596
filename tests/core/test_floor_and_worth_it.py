"""Changing the floor before training only; the "is distillation worth it" arithmetic."""

from __future__ import annotations

import os

import pytest

from core.configs import to_json
from core.errors import UserError
from core.evaluate.config import EvaluateConfig, EvaluateResult, SpeedRow
from core.evaluate.worth_it import (
    StudentMeasurement,
    WorthItInputs,
    estimate_worth_it,
    load_inputs,
    measured_student,
    save_inputs,
)
from core.floor import FloorLockedError, change_floor, floor_locked_reason
from core.jobs import runs
from core.jobs.registry import EVALUATE, TRAIN
from core.project import Project, QualityFloor
from core.store import audit


def test_the_floor_changes_before_training_and_is_audited(labelled_project):
    assert floor_locked_reason(labelled_project) is None
    change_floor(labelled_project, QualityFloor(0.97, min_metric=0.8))
    with Project.open(labelled_project.path) as reopened:
        assert reopened.settings.floor == QualityFloor(0.97, min_metric=0.8)
    entry = audit.entries(labelled_project.store, 1)[0]
    assert entry.action == "floor.change"
    assert entry.details["old"]["min_retention"] == 0.9
    assert entry.details["new"]["min_retention"] == 0.97
    assert audit.verify(labelled_project.store).ok


def test_the_floor_is_fixed_once_training_started(labelled_project):
    from core.train.config import TrainConfig

    run_id = runs.create_run(labelled_project, TRAIN, TrainConfig())
    runs.mark_running(labelled_project, run_id, os.getpid())
    runs.mark_finished(labelled_project, run_id, "cancelled")
    assert "training has started" in floor_locked_reason(labelled_project)
    with pytest.raises(FloorLockedError):
        change_floor(labelled_project, QualityFloor(0.5))
    assert labelled_project.settings.floor == QualityFloor(0.9)


def test_an_invalid_floor_is_refused(labelled_project):
    with pytest.raises(UserError, match="retention"):
        change_floor(labelled_project, QualityFloor(1.5))


def test_teacher_cost_per_1k_requests():
    estimate = estimate_worth_it(
        WorthItInputs(
            daily_requests=20_000, price=2.0, price_basis="per_1k_requests",
            hardware_cost_per_hour=1.0,
        )
    )  # fmt: skip
    assert estimate.teacher_cost_per_request == pytest.approx(0.002)
    assert estimate.requests_per_year == 20_000 * 365
    assert estimate.teacher_yearly_cost == pytest.approx(0.002 * 20_000 * 365)
    assert estimate.teacher_per_million == pytest.approx(2000.0)
    # An hour of 1.0 hardware costs what 500 teacher requests cost: 500/3600 per second.
    assert estimate.required_throughput_per_s == pytest.approx(500 / 3600)
    assert estimate.student_yearly_cost is None


def test_no_money_from_numbers_nobody_entered():
    """Nothing entered: no price, no yearly cost, no target, no saving, even once measured."""
    measured = StudentMeasurement("evaluate-1", latency_p95_ms=12.0, throughput_per_s=400.0)
    nothing = estimate_worth_it(WorthItInputs(), measured)
    assert nothing.teacher_cost_per_request is None
    assert nothing.teacher_yearly_cost is None
    assert nothing.required_throughput_per_s is None
    assert nothing.student_yearly_cost is None
    assert nothing.yearly_saving is None
    # The volume and hardware rate alone give the student's cost, never a saving.
    partial = estimate_worth_it(
        WorthItInputs(daily_requests=1000, hardware_cost_per_hour=2.0), measured
    )
    assert partial.student_yearly_cost == pytest.approx(2.0 / (400 * 3600) * 365_000)
    assert partial.yearly_saving is None
    # Token pricing without the tokens per request is not a price either.
    tokens = WorthItInputs(price=10.0, price_basis="per_1m_tokens")
    assert estimate_worth_it(tokens).teacher_cost_per_request is None


def test_teacher_cost_per_million_tokens_and_latency():
    inputs = WorthItInputs(
        daily_requests=1000,
        price=10.0,
        price_basis="per_1m_tokens",
        tokens_per_request=800,
        teacher_latency_ms=900,
        latency_need_ms=300,
        hardware_cost_per_hour=2.0,
    )
    estimate = estimate_worth_it(inputs)
    assert estimate.teacher_cost_per_request == pytest.approx(0.008)
    assert estimate.teacher_meets_latency is False
    measured = StudentMeasurement("evaluate-1", latency_p95_ms=12.0, throughput_per_s=400.0)
    with_student = estimate_worth_it(inputs, measured)
    assert with_student.student_meets_latency is True
    # The shipped model's throughput at the entered hardware cost: 2.0 / (400 * 3600) each.
    yearly = 2.0 / (400 * 3600) * 365_000
    assert with_student.student_yearly_cost == pytest.approx(yearly)
    assert with_student.yearly_saving == pytest.approx(0.008 * 365_000 - yearly)


def test_a_free_teacher_needs_no_throughput():
    free = WorthItInputs(price=0.0, hardware_cost_per_hour=1.0)
    assert estimate_worth_it(free).required_throughput_per_s is None


@pytest.mark.parametrize(
    "bad",
    [
        WorthItInputs(daily_requests=-1),
        WorthItInputs(price=-0.1),
        WorthItInputs(latency_need_ms=0),
        WorthItInputs(price_basis="per_call"),  # type: ignore[arg-type]
    ],
)
def test_bad_inputs_are_user_errors(bad):
    with pytest.raises(UserError):
        estimate_worth_it(bad)


def test_inputs_round_trip_through_the_project(labelled_project):
    assert load_inputs(labelled_project) is None
    inputs = WorthItInputs(daily_requests=5, price=3.0, latency_need_ms=200.0)
    save_inputs(labelled_project, inputs)
    assert load_inputs(labelled_project) == inputs


def test_measured_student_reads_the_latest_evaluation(labelled_project):
    assert measured_student(labelled_project) is None
    run_id = runs.create_run(labelled_project, EVALUATE, EvaluateConfig())
    speed = SpeedRow("student", "student", 2.0, 7.5, None, 1, 1.0, 0.25)
    shipped = SpeedRow("student_onnx_int8", "student, shipped", 1.0, 3.5, 90.0, 1, 0.3, None)
    result = EvaluateResult(
        run_id=run_id, task="classification", primary_metric="macro_f1", reference="human",
        student_dir=labelled_project.path / "student", teacher_id=None, passed=True,
        test_passed=True, edge_passed=None, failures=(), temperature=None,
        calibration_file=None, report_html=labelled_project.path / "report.html",
        report_pdf=None, headline=(), notes=(), speed=(speed, shipped),
        judged="student_onnx_int8",
    )  # fmt: skip
    stored = to_json(result, labelled_project.path)
    runs.mark_finished(labelled_project, run_id, "succeeded", result=stored)
    measured = measured_student(labelled_project)
    # The figures of the file that ships (the judged model), not the PyTorch student's.
    assert measured == StudentMeasurement(run_id, 3.5, 90.0, "student, shipped")
