"""A verdict a reviewer can sign: intervals and the gate on their bound, the sample-size rules
and a temperature kept only when it helps, the recommendation in the seed's order, the
referral threshold, and money only from numbers someone entered."""

from __future__ import annotations

import csv
import dataclasses
import shutil

import numpy as np
import pytest
from evaluate_helpers import (
    LABELS,
    TINY,
    add_teacher_outputs,
    fake_train_run,
    fill_records,
    finish_run,
    make_project,
    train_result,
    unpack_legacy,
)

from core.data import ImportConfig
from core.evaluate import gate
from core.evaluate.calibration import choose_temperature
from core.evaluate.config import EvaluateConfig, SpeedRow
from core.evaluate.recommend import Candidate, recommend
from core.evaluate.referral import referral
from core.evaluate.sample_size import sample_size_warnings
from core.evaluate.uncertainty import Interval, bootstrap
from core.evaluate.worth_it import WorthItInputs, save_inputs
from core.jobs import runs
from core.jobs.execute import run_stage
from core.jobs.registry import EVALUATE, IMPORT, TEACH, TRAIN
from core.project import QualityFloor
from core.stage_states import stage_states
from core.train.config import TrainConfig

FAST = EvaluateConfig(latency_runs=2, threads=1, score_shipped=False, sample_sizes=TINY)
FLOOR = QualityFloor(min_retention=0.95)


# -- intervals and the gate on their bound -------------------------------------------------


def test_bootstrap_intervals_are_seeded_and_hold_the_figure():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 400)
    probs = rng.dirichlet(np.ones(3) * 0.3, 400)
    from core.evaluate.metrics import reliability

    def ece(i):
        return reliability(probs[i], truth[i]).ece

    first, again = bootstrap(400, ece), bootstrap(400, ece)
    assert first == again  # seeded: the same evaluation gives the same interval
    assert first is not None
    assert first.contains(ece(np.arange(400)))
    assert bootstrap(1, ece) is None  # one row: no interval


def test_the_gate_can_judge_the_intervals_lower_bound():
    # Retention 0.97 passes on the figure; its interval reaches down to 0.93.
    intervals = {"retention": Interval(0.93, 0.99), "metric": None, "ECE": Interval(0.01, 0.08)}
    on_figure = gate.judge("test", FLOOR, retention=0.97, metric=0.8, ece=None,
                           intervals=intervals)  # fmt: skip
    on_bound = gate.judge("test", FLOOR, retention=0.97, metric=0.8, ece=None,
                          intervals=intervals, on_bound=True)  # fmt: skip
    assert on_figure.passed
    assert not on_bound.passed
    assert on_bound.failures[0].describe() == (
        "retention 0.9700 (lower bound 0.9300) is below the floor 0.95"
    )
    ceiling = QualityFloor(min_retention=0.9, max_ece=0.05)
    ece = gate.judge("test", ceiling, retention=0.97, metric=0.8, ece=0.03,
                     intervals=intervals, on_bound=True)  # fmt: skip
    assert [c.name for c in ece.failures] == ["ECE"]  # its upper bound 0.08 is above 0.05
    no_interval = gate.judge("test", FLOOR, retention=0.99, metric=0.8, ece=None,
                             on_bound=True)  # fmt: skip
    assert not no_interval.passed  # no interval (too few rows): the bound cannot be shown


def test_the_stage_gates_on_the_bound_when_asked(tmp_path, trained_student):
    project = make_project(tmp_path, min_retention=0.6)
    fill_records(project, 90)
    add_teacher_outputs(project)
    fake_train_run(project, trained_student)
    on_figure = run_stage(project, EVALUATE, FAST)
    on_bound = run_stage(project, EVALUATE, dataclasses.replace(FAST, gate_on_lower_bound=True))
    row = on_bound.row("test", "student")
    assert row.retention_ci is not None
    assert row.retention_ci.low < 0.6 < row.retention
    assert on_figure.passed is True
    assert on_bound.passed is False
    assert on_bound.gate_on_lower_bound is True
    assert "lower bound" in on_bound.failures[0]
    # A failed gate is not Done: the sidebar and `status` say it needs attention.
    state = stage_states(project)["evaluate"]
    assert state.state == "needs_attention"
    assert state.reason.startswith("The student fails the quality floor: test: retention")


def test_a_failed_evaluation_of_release_0_1_needs_attention_too(tmp_path):
    from core.project import Project

    with Project.open(unpack_legacy(tmp_path)) as project:
        state = stage_states(project)["evaluate"]
    assert state.state == "needs_attention"
    assert "retention 0.3281 is below the floor 0.5" in state.reason


# -- the small project: warnings, T = 1, needs attention -----------------------------------

SMALL = ("train",) * 5 + ("validation", "test")  # 21 records: 3 validation, 3 test


def small_project(tmp_path, trained_student):
    project = make_project(tmp_path, "small", min_retention=0.5)
    fill_records(project, 21, splits=SMALL)
    add_teacher_outputs(project)
    fake_train_run(project, trained_student)
    return project


def test_a_three_row_project_warns_fits_no_temperature_and_needs_attention(
    tmp_path, trained_student
):
    project = small_project(tmp_path, trained_student)
    config = EvaluateConfig(latency_runs=2, threads=1, score_shipped=False)  # the seed's rules
    result = run_stage(project, EVALUATE, config)
    assert set(result.thin_splits) == {"test", "validation"}
    assert any("the test split has 3 rows" in w for w in result.warnings)
    assert result.temperature == 1.0
    assert result.temperature_note.startswith("no temperature: the validation split has 3")
    row = result.row("test", "student")
    assert row.ece_calibrated is None  # no "after" shown as if it helped
    assert row.metric_ci is None  # three rows resample to a zero-width "certainty": none shown
    assert result.recommendation.headline == "Ship neither yet"
    assert (
        "Too little data to decide: the test split has 3 rows"
        in (result.recommendation.reasons[-1])
    )
    state = stage_states(project)["evaluate"]
    assert state.state == "needs_attention"
    assert "too little data" in state.reason
    page = result.report_html.read_text(encoding="utf-8")
    assert "Too little data for a trustworthy verdict" in page
    project.close()


def test_a_temperature_is_kept_only_when_held_out_rows_agree():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 3)
    logits = np.eye(3)[truth] * 4  # three rows, all right: a fit would sharpen them to T=0.05
    tiny = choose_temperature(logits, truth, min_rows=100)
    assert tiny.temperature == 1.0
    assert "3 labelled rows" in tiny.reason
    # 600 overconfident rows (logits ten times too large): a temperature helps held-out rows.
    truth = rng.integers(0, 3, 600)
    true_logits = rng.normal(0, 1, (600, 3)) + np.eye(3)[truth] * 1.5
    picked = np.array([rng.choice(3, p=np.exp(r) / np.exp(r).sum()) for r in true_logits])
    fit = choose_temperature(true_logits * 10, picked, min_rows=100)
    assert fit.kept
    assert fit.temperature > 3
    assert fit.held_out_after < fit.held_out_before
    # Noise the fit chases but held-out rows do not reward: T = 1 is kept, with the reason.
    noise = rng.normal(0, 0.05, (200, 3))
    flat = choose_temperature(noise, rng.integers(0, 3, 200), min_rows=100)
    assert flat.temperature == 1.0
    assert flat.reason.startswith("no temperature")


def test_training_at_chance_level_needs_attention(labelled_project, tmp_path):
    run_id = runs.create_run(labelled_project, TRAIN, TrainConfig())
    model = tmp_path / "model"
    # As training stores it: the best checkpoint's validation figures, chosen by macro-F1.
    result = dataclasses.replace(
        train_result(run_id, model, ""), best_val_metric=0.30,
        validation={"accuracy": 0.36, "macro_f1": 0.30}, chance_accuracy=1 / 3,
    )  # fmt: skip
    finish_run(labelled_project, run_id, result)
    state = stage_states(labelled_project)["train"]
    assert state.state == "needs_attention"
    assert "chance level" in state.reason
    assert "0.36" in state.reason
    learnt = runs.create_run(labelled_project, TRAIN, TrainConfig(epochs=2))
    finish_run(labelled_project, learnt, dataclasses.replace(
        result, run_id=learnt, best_val_metric=0.9, validation={"accuracy": 0.9},
    ))  # fmt: skip
    assert stage_states(labelled_project)["train"].state == "done"


def test_import_warns_about_a_small_project(labelled_project, tmp_path):
    source = tmp_path / "small.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([[f"message number {i}", LABELS[i % 3]] for i in range(30)])
    config = ImportConfig(source=source, text_column="text", label_column="label")
    result = run_stage(labelled_project, IMPORT, config)
    assert any(w.startswith("the test split has") for w in result.warnings)
    assert sample_size_warnings({"test": 500, "validation": 100, "edge": 150}) == {}


# -- the recommendation ----------------------------------------------------------------------


def _candidate(name, passed, p50, size):
    verdict = gate.judge("test", FLOOR, retention=0.99 if passed else 0.9, metric=0.8, ece=None)
    return Candidate(name, verdict, None, SpeedRow(name, name, p50, p50 * 1.5, 10, 1, size, None))


def test_the_quantized_teacher_is_shipped_when_it_meets_the_floor():
    advice = recommend(
        _candidate("student_onnx_int8", True, 2.0, 17.0),
        _candidate("teacher_int8", True, 8.0, 23.0),
        baseline_reason="", metric="macro-F1",
        difference=(0.016, Interval(-0.01, 0.04)), latency_need_ms=None,
    )  # fmt: skip
    assert advice.choice == "quantized_teacher"
    assert advice.headline == "Ship the quantized teacher"
    text = " ".join(advice.reasons)
    assert "the quantized teacher scores 0.016 higher macro-F1" in text
    assert "within the uncertainty" in text
    assert "(4.0 times faster)" in text
    # A latency the quantized teacher cannot meet (p95 12 ms > 5 ms) is what distilling buys.
    needed = recommend(
        _candidate("student_onnx_int8", True, 2.0, 17.0),
        _candidate("teacher_int8", True, 8.0, 23.0),
        baseline_reason="", metric="macro-F1", difference=None, latency_need_ms=5.0,
    )  # fmt: skip
    assert needed.choice == "student"


def test_the_student_is_shipped_when_the_quantized_teacher_fails():
    advice = recommend(
        _candidate("student_onnx_int8", True, 2.0, 17.0),
        _candidate("teacher_int8", False, 8.0, 23.0),
        baseline_reason="", metric="macro-F1",
        difference=(-0.05, Interval(-0.08, -0.02)), latency_need_ms=None,
    )  # fmt: skip
    assert advice.choice == "student"
    assert advice.reasons[0].startswith("The quantized teacher fails the floor")
    assert "the student scores 0.050 higher" in " ".join(advice.reasons)
    neither = recommend(
        _candidate("student_onnx_int8", False, 2.0, 17.0), None,
        baseline_reason="the teacher is a remote endpoint", metric="macro-F1",
        difference=None, latency_need_ms=None,
    )  # fmt: skip
    assert neither.choice == "neither"
    assert "no quantize-only baseline: the teacher is a remote endpoint" in neither.reasons[0]


def test_a_local_teacher_goes_through_onnx_and_is_recommended(tmp_path, trained_student):
    from core.teacher.config import TeachConfig

    project = make_project(tmp_path, min_retention=0.9)
    fill_records(project, 60)
    teacher = tmp_path / "teacher-model"
    shutil.copytree(trained_student, teacher)
    teacher_id = run_stage(project, TEACH, TeachConfig(teacher=f"hf:{teacher}")).teacher_id
    fake_train_run(project, trained_student, teacher_id=teacher_id)
    result = run_stage(project, EVALUATE, dataclasses.replace(FAST, score_shipped=True))
    speed = {row.model: row for row in result.speed}
    # The baseline is the ONNX INT8 file of the teacher, timed like the shipped student.
    assert speed["teacher_int8"].title == "teacher ONNX INT8 (quantize only)"
    assert speed["teacher_int8"].threads == speed["student_onnx_int8"].threads == 1
    assert result.baseline_verdict is not None
    assert result.baseline_verdict.passed
    assert result.recommendation is not None
    assert result.recommendation.choice == "quantized_teacher"  # same weights: it is enough
    assert result.recommendation.difference == pytest.approx(0.0, abs=0.05)
    assert "Recommendation: Ship the quantized teacher" in result.report_html.read_text()
    project.close()


def test_the_referral_threshold_reaches_the_target():
    truth = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.5, 0.4, 0.1],
                      [0.1, 0.3, 0.6], [0.2, 0.4, 0.4]])  # fmt: skip
    found = referral(probs, truth, target=1.0, basis="test")
    assert found.threshold == pytest.approx(0.6)  # above it every answer was right
    assert found.coverage == pytest.approx(4 / 6)
    assert referral(probs, truth, target=1.01, basis="test").threshold is None


# -- money -------------------------------------------------------------------------------------


def test_no_invented_money(tmp_path, trained_student):
    project = make_project(tmp_path, min_retention=0.5)
    fill_records(project, 90)
    add_teacher_outputs(project)
    project.store.conn.execute("UPDATE teacher_outputs SET cost = 0")  # a teacher that bills 0
    project.store.conn.commit()
    fake_train_run(project, trained_student)
    result = run_stage(project, EVALUATE, dataclasses.replace(FAST, score_shipped=True))
    cost = result.cost
    assert cost.hardware_cost_per_hour is None
    assert cost.teacher_per_million is None
    assert cost.student_per_million is None
    assert cost.one_off_cost is None
    assert cost.breakeven_per_day is None
    assert all(row.cost_per_million is None for row in result.speed)
    assert "enter the teacher&#x27;s price to see savings" in result.report_html.read_text()
    # Entered on the Project page: the hardware rate prices the shipped model, in EUR.
    save_inputs(project, WorthItInputs(hardware_cost_per_hour=3.6, currency="EUR"))
    priced = run_stage(project, EVALUATE, dataclasses.replace(FAST, score_shipped=True,
                                                             latency_runs=3))  # fmt: skip
    shipped = next(s for s in priced.speed if s.model == "student_onnx_int8")
    assert priced.cost.currency == "EUR"
    assert priced.cost.student_per_million == pytest.approx(
        3.6 / (shipped.throughput_per_s * 3600) * 1e6
    )
    project.close()
