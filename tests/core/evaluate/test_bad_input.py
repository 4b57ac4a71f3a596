"""Bad input: one actionable error each, or an honest, labelled degraded evaluation."""

from __future__ import annotations

import pytest
from evaluate_helpers import (
    TEACHER_ID,
    add_teacher_outputs,
    fake_train_run,
    fill_records,
    finish_run,
    make_project,
)

from core.errors import EvaluateError
from core.evaluate.baseline import plan_baseline
from core.evaluate.config import EvaluateConfig
from core.jobs import runs
from core.jobs.execute import run_stage
from core.jobs.registry import EVALUATE, TEACH
from core.reporter import NullReporter
from core.teacher.config import TeachConfig, TeachResult

QUICK = EvaluateConfig(measure_latency=False, threads=1, score_shipped=False)


def run(project, config: EvaluateConfig = QUICK):
    return run_stage(project, EVALUATE, config, reporter=NullReporter())


@pytest.fixture
def bare_project(tmp_path):
    project = make_project(tmp_path)
    fill_records(project, 90)
    add_teacher_outputs(project)
    yield project
    project.close()


def test_evaluating_before_training_says_to_train_first(bare_project):
    with pytest.raises(EvaluateError, match="no trained student") as info:
        run(bare_project)
    assert "stillroom train" in info.value.hint


def test_a_test_split_with_one_class_is_refused(bare_project, trained_student):
    fake_train_run(bare_project, trained_student)
    with bare_project.store.transaction() as conn:
        conn.execute("UPDATE records SET label = 'billing' WHERE split = 'test'")
    with pytest.raises(EvaluateError, match="one class only") as info:
        run(bare_project)
    assert "stratified" in info.value.hint


def test_no_test_records_is_refused(tmp_path, trained_student):
    project = make_project(tmp_path)
    fill_records(project, 30, splits=("train", "validation"))
    add_teacher_outputs(project)
    fake_train_run(project, trained_student)
    with pytest.raises(EvaluateError, match="no test records"):
        run(project)


def test_a_student_trained_on_another_label_set_is_refused(bare_project, trained_student):
    fake_train_run(bare_project, trained_student, labels=["spam", "ham"])
    with pytest.raises(EvaluateError, match="trained on the labels spam, ham"):
        run(bare_project)


def test_a_student_whose_head_predicts_other_labels_is_refused(bare_project, other_labels_student):
    config = EvaluateConfig(student=other_labels_student, measure_latency=False, threads=1)
    with pytest.raises(EvaluateError, match="predicts 2 labels"):
        run(bare_project, config)


def test_a_folder_that_is_not_a_model_is_refused(bare_project, tmp_path):
    with pytest.raises(EvaluateError, match="not a model folder"):
        run(bare_project, EvaluateConfig(student=tmp_path, measure_latency=False))


def test_an_unknown_teacher_id_lists_the_known_ones(bare_project, trained_student):
    fake_train_run(bare_project, trained_student)
    config = EvaluateConfig(teacher_id="hf:nope@1", measure_latency=False, threads=1)
    with pytest.raises(EvaluateError, match="no stored outputs") as info:
        run(bare_project, config)
    assert TEACHER_ID in info.value.hint


def test_missing_teacher_outputs_on_test_rows_fall_back_to_human_labels(tmp_path, trained_student):
    project = make_project(tmp_path)
    fill_records(project, 90)
    add_teacher_outputs(project, skip_split="test")
    fake_train_run(project, trained_student)
    result = run(project)
    notes = " ".join(result.notes)
    assert "test: no teacher answers on this set: scored against the human labels only" in notes
    student = next(r for r in result.headline if r.split == "test" and r.model == "student")
    assert student.metric is not None
    assert student.retention is None
    # A retention that cannot be measured fails the gate rather than passing silently.
    assert not result.test_passed
    assert any("retention not measurable" in f for f in result.failures)
    page = result.report_html.read_text(encoding="utf-8")
    assert "scored against the human labels only" in page


def test_partly_missing_teacher_outputs_are_counted(tmp_path, trained_student):
    project = make_project(tmp_path)
    fill_records(project, 90)
    add_teacher_outputs(project)
    with project.store.transaction() as conn:
        conn.execute(
            "DELETE FROM teacher_outputs WHERE record_id IN (SELECT id FROM records "
            "WHERE split = 'test' ORDER BY id LIMIT 5)"
        )
    fake_train_run(project, trained_student)
    result = run(project)
    assert any("5 of 27 human-labelled rows have no teacher answer" in n for n in result.notes)
    student = next(r for r in result.headline if r.split == "test" and r.model == "student")
    assert student.retention is not None


def test_without_human_labels_the_teacher_is_the_reference(tmp_path, trained_student):
    project = make_project(tmp_path)
    fill_records(project, 90, labelled=False)
    add_teacher_outputs(project)
    fake_train_run(project, trained_student)
    result = run(project)
    assert result.reference == "teacher"
    rows = {r.model: r for r in result.headline if r.split == "test"}
    assert rows["teacher"].metric == pytest.approx(1.0)
    assert rows["student"].retention == pytest.approx(rows["student"].metric)


def test_config_values_are_checked():
    with pytest.raises(EvaluateError, match="cannot be negative"):
        EvaluateConfig(hardware_cost_per_hour=-1).validate()
    with pytest.raises(EvaluateError, match="latency-runs"):
        EvaluateConfig(latency_runs=0).validate()


def fake_teach_run(project, spec: str, teacher_id: str, kind: str) -> None:
    """A succeeded teach run of ``spec`` that stored ``teacher_id``'s outputs."""
    run_id = runs.create_run(project, TEACH, TeachConfig(teacher=spec))
    finish_run(project, run_id, TeachResult(
        teacher_id=teacher_id, teacher_kind=kind, prompt_version="", task="classification",
        eligible=0, already_stored=0, labelled=0, invalid=0, failed=0, cost=0.0,
        cost_total=0.0, input_tokens=0, output_tokens=0, attempts=0, seconds=0.0,
        records_per_s=0.0,
    ))  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "kind", "reason"),
    [
        ("labels", "labels", "human labels"),
        ("openai:http://gpu-box:8000/v1", "endpoint", "remote endpoint"),
        ("hf:CAUSAL", "hf-causal", "causal LM"),
        ("hf:/gone", "hf-classifier", "moved or changed"),
        (None, None, "no teach run"),
    ],
)
def test_quantize_only_baseline_is_not_applicable_with_a_reason(
    bare_project, tiny_causal, spec, kind, reason
):
    from core.teacher.models import folder_digest

    teacher_id = f"hf:{tiny_causal.name}@{folder_digest(tiny_causal)}?answers=letters&t=1"
    if spec is not None:
        fake_teach_run(bare_project, spec.replace("CAUSAL", str(tiny_causal)), teacher_id, kind)
    plan = plan_baseline(bare_project, teacher_id)
    assert plan.folder is None
    assert reason in plan.reason
    assert "no teacher outputs" in plan_baseline(bare_project, None).reason
