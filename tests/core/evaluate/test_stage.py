"""The evaluate stage end to end on a tiny project: metrics rows, calibration, the report."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import numpy as np
import pytest
from evaluate_helpers import (
    LABELS,
    TINY,
    all_texts,
    fake_train_run,
    fill_records,
    make_project,
)
from sklearn.metrics import accuracy_score, f1_score

from core.configs import to_json
from core.evaluate.config import EvaluateConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EVALUATE, TEACH, RunContext
from core.store import audit

FAST = EvaluateConfig(latency_runs=3, threads=1, score_shipped=False, sample_sizes=TINY)
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def evaluate(project, config: EvaluateConfig = FAST):
    """Run the stage; the run id and the result as ``--json`` prints it."""
    result = run_stage(project, EVALUATE, config)
    return result.run_id, to_json(result)


def read(path) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def metric_values(project, run_id):
    rows = project.store.query("SELECT split, name, value FROM metrics WHERE run_id = ?", (run_id,))
    return {(r["split"], r["name"]): r["value"] for r in rows}


def student_predictions(model_dir, texts):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return [LABELS.index(names[i]) for i in logits.argmax(dim=1).tolist()]


def test_stage_is_registered():
    assert EVALUATE.function().__name__ == "run_evaluate"


def test_end_to_end_metrics_match_sklearn_and_report_is_safe(eval_project):
    run_id, result = evaluate(eval_project, replace(FAST, hardware_cost_per_hour=1.0))
    values = metric_values(eval_project, run_id)
    rows = eval_project.store.query(
        "SELECT r.label, a.text FROM records r JOIN anonymized a ON a.record_id = r.id "
        "WHERE r.split = 'test' ORDER BY r.id"
    )
    y_true = [LABELS.index(r["label"]) for r in rows]
    y_pred = student_predictions(result["student_dir"], [r["text"] for r in rows])
    assert values[("test", "student.accuracy")] == pytest.approx(accuracy_score(y_true, y_pred))
    assert values[("test", "student.macro_f1")] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    for name in (
        "student.retention",
        "student.agreement",
        "student.ece",
        "student.ece_calibrated",
        "teacher.macro_f1",
        "gate.passed",
        f"student.f1.{LABELS[0]}",
        f"student.confusion.{LABELS[0]}.{LABELS[1]}",
    ):
        assert ("test", name) in values
        assert ("edge", name) in values
    assert ("", "student.latency_p50_ms.cpu") in values
    assert values[("", "student.threads.cpu")] == 1
    assert values[("", "gate.passed")] == float(result["passed"])
    # Retention is the ratio of the two stored metrics, on the same rows.
    assert values[("test", "student.retention")] == pytest.approx(
        values[("test", "student.macro_f1")] / values[("test", "teacher.macro_f1")]
    )
    _check_calibration(result, values)
    _check_report(eval_project, result)
    assert any(e.action == "evaluate.finish" for e in audit.entries(eval_project.store))


def _check_calibration(result, values):
    with open(result["calibration_file"], encoding="utf-8") as handle:
        saved = json.load(handle)
    assert result["calibration_file"].endswith("student/calibration.json")
    assert saved["temperature"] == pytest.approx(values[("validation", "student.temperature")])
    assert values[("validation", "student.nll_calibrated")] <= values[("validation", "student.nll")]


def _check_report(project, result):
    page = read(result["report_html"])
    assert "<svg" in page
    assert not EXTERNAL.search(page), "the report must not load anything from the network"
    assert "<script" not in page
    assert "<link" not in page
    for text in all_texts(project):
        assert text not in page
    assert "Jane Roe" not in page
    assert "FAILS the quality floor" in page  # floor 0.9, the tiny student keeps ~65%


def test_rerun_in_the_same_run_replaces_its_metrics(eval_project):
    from core.evaluate.stage import run_evaluate
    from core.reporter import NullReporter

    run_id, _ = evaluate(
        eval_project, EvaluateConfig(measure_latency=False, threads=1, score_shipped=False)
    )
    before = len(metric_values(eval_project, run_id))
    config = EvaluateConfig(measure_latency=False, threads=1, score_shipped=False)
    run = RunContext(run_id, eval_project.run_dir(run_id), resumed=True)
    run_evaluate(eval_project, config, run=run, reporter=NullReporter())
    count = eval_project.store.scalar("SELECT COUNT(*) FROM metrics WHERE run_id = ?", (run_id,))
    assert count == before


def test_a_passing_student_and_an_edge_failure_shown_while_test_passes(tmp_path, trained_student):
    project = make_project(tmp_path, min_retention=0.5)
    fill_records(project, 90)
    # Relabel the edge set so humans and teacher agree on a label the text does not support:
    # the student (which reads the text) fails there, while the test set passes.
    rotate = {a: b for a, b in zip(LABELS, LABELS[1:] + LABELS[:1], strict=True)}
    with project.store.transaction() as conn:
        for label, new in rotate.items():
            conn.execute(
                "UPDATE records SET label = ? || '#' WHERE split = 'edge' AND label = ?",
                (new, label),
            )
        conn.execute("UPDATE records SET label = rtrim(label, '#') WHERE split = 'edge'")
    from evaluate_helpers import add_teacher_outputs

    add_teacher_outputs(project, wrong_every=1000)
    fake_train_run(project, trained_student)
    _, result = evaluate(
        project, EvaluateConfig(measure_latency=False, threads=1, score_shipped=False)
    )
    assert result["passed"] is True
    assert result["test_passed"] is True
    assert result["edge_passed"] is False
    assert any(f.startswith("edge: retention") for f in result["failures"])
    page = read(result["report_html"])
    assert "Edge-case failure (shown although the test set passes)" in page
    strict = EvaluateConfig(measure_latency=False, threads=1, strict_edge=True, score_shipped=False)
    _, result = evaluate(project, strict)
    assert result["passed"] is False


def test_quantize_only_baseline_for_a_local_classifier_teacher(tmp_path, trained_student):
    from core.teacher.config import TeachConfig

    project = make_project(tmp_path, min_retention=0.9)
    fill_records(project, 60)
    teacher = tmp_path / "teacher-model"
    shutil.copytree(trained_student, teacher)
    teacher_id = run_stage(project, TEACH, TeachConfig(teacher=f"hf:{teacher}")).teacher_id
    fake_train_run(project, trained_student, teacher_id=teacher_id)
    run_id, result = evaluate(project, replace(FAST, hardware_cost_per_hour=1.0))
    values = metric_values(project, run_id)
    # The same weights quantized: close to the teacher, and smaller.
    assert values[("test", "teacher_int8.agreement")] >= 0.8
    assert values[("", "teacher_int8.size_mb")] < values[("", "teacher.size_mb")]
    assert ("", "teacher.latency_p50_ms.cpu") in values
    # A teacher that billed nothing is costed from its measured speed at the entered rate.
    assert values[("", "teacher.cost_per_million")] > 0
    assert values[("test", "student.retention")] == pytest.approx(1.0)
    assert result["passed"] is True
    page = read(result["report_html"])
    assert "teacher ONNX INT8 (quantize only)" in page


def test_generation_student_is_scored_against_the_teachers_text(tmp_path, tiny_causal):
    from core.project import Project, QualityFloor
    from core.store.db import utc_now

    project = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.5))
    fill_records(project, 20, labelled=False)
    with project.store.transaction() as conn:
        for (record_id,) in conn.execute("SELECT id FROM records").fetchall():
            conn.execute(
                "INSERT INTO teacher_outputs (record_id, teacher_id, prompt_version, text, "
                "cost, created_at) VALUES (?, 'hf:gen@1?t=0&max=8', 'p1', ?, 0.001, ?)",
                (record_id, f"summary number {record_id}", utc_now()),
            )
    fake_train_run(project, tiny_causal, teacher_id="hf:gen@1?t=0&max=8", labels=[])
    run_id, result = evaluate(project, EvaluateConfig(latency_runs=2, threads=1, max_new_tokens=8))
    values = metric_values(project, run_id)
    assert result["primary_metric"] == "rouge_l"
    assert result["reference"] == "teacher"
    for name in (
        "student.rouge_l",
        "student.exact_match",
        "student.length_ratio",
        "student.retention",
        "student.agreement",
    ):
        assert ("test", name) in values
    assert values[("test", "student.retention")] == pytest.approx(
        values[("test", "student.rouge_l")]
    )
    assert not any(name.endswith("ece") for _, name in values)
    page = read(result["report_html"])
    assert "ONNX INT8 path" in page
    for text in all_texts(project):
        assert text not in page


def test_a_weak_teacher_draws_a_suggested_minimum_metric(tmp_path, tiny_causal):
    # Issue 17: retention against a teacher with ROUGE-L 0.31 passes a useless student.
    from core.project import Project, QualityFloor
    from core.store.db import utc_now

    project = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.5))
    fill_records(project, 20)  # the labels are the human reference texts
    with project.store.transaction() as conn:
        for (record_id,) in conn.execute("SELECT id FROM records").fetchall():
            conn.execute(
                "INSERT INTO teacher_outputs (record_id, teacher_id, prompt_version, text, "
                "cost, created_at) VALUES (?, 'hf:gen@1?t=0&max=8', 'p1', ?, 0.001, ?)",
                (record_id, f"summary number {record_id}", utc_now()),
            )
    fake_train_run(project, tiny_causal, teacher_id="hf:gen@1?t=0&max=8", labels=[])
    config = EvaluateConfig(latency_runs=2, threads=1, max_new_tokens=4, measure_latency=False)
    _, result = evaluate(project, config)
    assert result["reference"] == "human"
    assert any("set a minimum metric" in note for note in result["notes"])


def test_a_fitted_temperature_moves_the_calibrated_ece(eval_project):
    _, result = evaluate(eval_project, replace(FAST, measure_latency=False))
    student = next(r for r in result["headline"] if r["model"] == "student")
    assert result["temperature"] != pytest.approx(1.0)
    assert student["ece_calibrated"] != student["ece"]
    assert np.isfinite(student["ece_calibrated"])


def test_cancel_stops_before_anything_is_reported(eval_project):

    from core.reporter import RecordingReporter, StageCancelled

    reporter = RecordingReporter(cancel_after=2)
    with pytest.raises(StageCancelled):
        run_stage(eval_project, EVALUATE, FAST, reporter=reporter)
    assert not list(eval_project.runs_dir.glob("evaluate-*/report.html"))
    assert not any(e.action == "evaluate.finish" for e in audit.entries(eval_project.store))


def test_the_exported_onnx_int8_student_is_a_column(eval_project):
    pytest.importorskip("core.export.scorer")
    run_id, result = evaluate(eval_project, replace(FAST, score_shipped=True))
    values = metric_values(eval_project, run_id)
    # The same weights through ONNX Runtime in INT8: nearly the student's scores.
    for name in ("accuracy", "agreement"):
        onnx, torch_fp32 = (
            values[("test", f"{m}.{name}")] for m in ("student_onnx_int8", "student")
        )
        assert onnx == pytest.approx(torch_fp32, abs=0.1)
    assert ("test", "student_onnx_int8.ece_calibrated") in values
    assert ("", "student_onnx_int8.latency_p50_ms.cpu") in values
    assert values[("", "student_onnx_int8.size_mb")] < values[("", "student.size_mb")]
    assert "student (ONNX INT8" in read(result["report_html"])


def test_a_shipped_file_that_cannot_be_built_is_reported_not_fatal(eval_project, monkeypatch):
    from core.errors import ExportError
    from core.export.scorer import OnnxInt8Scorer

    def refuse(*args, **kwargs):
        raise ExportError("no exporter for this architecture")

    monkeypatch.setattr(OnnxInt8Scorer, "build", refuse)
    _, result = evaluate(eval_project, replace(FAST, measure_latency=False, score_shipped=True))
    assert any("could not be built here: no exporter" in note for note in result["notes"])
    assert {row["model"] for row in result["headline"]} == {"teacher", "student"}
    assert result["judged"] == "student"
    assert result["shipped"] is None
