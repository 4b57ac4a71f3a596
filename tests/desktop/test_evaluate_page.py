"""The evaluate page driven against the real evaluate stage on the tiny trained student."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "teacher"))

from evaluate_helpers import (
    add_teacher_outputs,
    build_trained_student,
    cached,
    fake_train_run,
    fill_records,
    make_project,
    unpack_legacy,
)

from core.evaluate.config import EvaluateConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EVALUATE
from core.jobs.runs import list_runs
from core.project import Project
from desktop.pages import evaluate_page as evaluate_module
from desktop.pages.evaluate_page import EvaluatePage


@pytest.fixture(scope="session")
def trained_student() -> Path:
    return cached("tiny-student", build_trained_student)


def student_project(tmp_path: Path, student: Path, **floor: float) -> Path:
    """600 anonymized records (120 validation: enough for a temperature; 180 test: too few
    for a verdict) with teacher answers and a trained student."""
    with make_project(tmp_path, "evaluated", **{"min_retention": 0.5, **floor}) as project:
        fill_records(project, 600)
        add_teacher_outputs(project)
        fake_train_run(project, student)
        return project.path


@pytest.fixture
def page(qtbot, app_context):
    widget = EvaluatePage(app_context)
    qtbot.addWidget(widget)
    widget.resize(1100, 900)
    widget.show()
    return widget


def run_through_page(qtbot, page: EvaluatePage) -> None:
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.busy(), page.banner.message()
    assert page.worker.wait_finished(120_000)
    qtbot.waitUntil(lambda: not page.busy())


def test_a_run_renders_the_verdict_and_every_table(qtbot, page, tmp_path, trained_student):
    page.context.open_project(student_project(tmp_path, trained_student))
    assert page.results.isHidden()
    assert "No evaluation yet" in page.placeholder.text()
    page.latency_runs.setValue(3)
    page.threads.setValue(1)
    page.baseline_check.setChecked(False)
    page.onnx_check.setChecked(False)  # the ONNX column costs an export: core tests cover it
    run_through_page(qtbot, page)
    assert page.worker.outcome == "succeeded", page.banner.message()
    results = page.results
    assert not results.isHidden()
    assert results.badge.text() == "PASS"
    assert results.reason.text().startswith("Retention ")
    assert " meets the floor 0.5" in results.reason.text()
    assert results.figures["retention"].text() not in ("", "—")
    assert results.captions["metric"].text() == "Student macro-F1"  # issue 20: named
    assert results.intervals["retention"].text().startswith("95%: ")
    panel = results.recommendation
    # It passes, but on 180 test rows: nothing ships on that (the reason says why).
    assert panel.headline.text() == "Recommendation: Ship neither yet"
    assert "no quantize-only baseline: switched off" in panel.reasons.text()
    assert "Too little data to decide" in panel.reasons.text()
    assert "the test split has 180 rows" in panel.warnings.text()
    assert not panel.warnings.isHidden()
    assert "PyTorch student" in panel.shipped.text()  # the ONNX file was not judged here
    assert results.class_table.item(0, 8).text() != "—"  # per-class retention
    assert "Worst class:" in results.worst_class.text()
    assert results.class_table.rowCount() == 3
    assert results.class_table.item(0, 0).text() == "billing"
    assert results.class_table.item(0, 4).text() != "—"  # the student's F1
    test_rows = page.results.result.set("test").rows
    assert sum(map(sum, results.confusion.counts())) == test_rows
    assert results.curve_model.count() >= 1
    lines = results.chart.plotted()
    assert any(name.startswith("before") for name in lines)
    # The temperature fitted here does not help held-out rows: none is applied, none drawn.
    assert results.temperature_note.text().startswith("no temperature: T = ")
    assert "made the NLL of held-out rows worse" in results.temperature_note.text()
    assert not any(name.startswith("after temperature") for name in lines)
    assert results.figures["temperature"].text() == "1.000"
    headers = [
        results.speed_table.horizontalHeaderItem(i).text()
        for i in range(results.speed_table.columnCount())
    ]
    assert headers == ["Measure", "teacher (stored answers)", "student (PyTorch FP32)"]
    assert results.speed_table.item(0, 0).text().startswith("Latency p50")


def evaluate_before_opening(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        run_stage(project, EVALUATE, fast_config())


def test_open_report_opens_the_runs_report(qtbot, page, tmp_path, trained_student, monkeypatch):
    project = student_project(tmp_path, trained_student)
    evaluate_before_opening(project)
    opened = []
    monkeypatch.setattr(evaluate_module, "open_url", lambda url: opened.append(url) or True)
    page.context.open_project(project)
    qtbot.mouseClick(page.results.open_report, Qt.MouseButton.LeftButton)
    assert len(opened) == 1
    assert opened[0].toLocalFile().endswith("report.html")
    assert Path(opened[0].toLocalFile()).is_file()


def fast_config() -> EvaluateConfig:
    return EvaluateConfig(measure_latency=False, score_shipped=False, quantize_baseline=False)


def test_a_failed_floor_shows_fail_with_the_reason(page, tmp_path, trained_student):
    # Evaluated before the window opened: the page shows it without evaluating again.
    project = student_project(tmp_path, trained_student, max_ece=0.0)
    evaluate_before_opening(project)
    page.context.open_project(project)
    results = page.results
    assert results.badge.text() == "FAIL"
    assert "is above the ceiling 0" in results.reason.text()
    assert results.reason.text().startswith("Test: ECE ")
    assert "timed" in results.cost_note.text()
    assert results.edge_verdict.text().startswith("The edge-case set")
    assert results.older.isHidden()


def test_an_evaluation_stored_by_release_0_1_shows_what_it_has(page, tmp_path):
    page.context.open_project(unpack_legacy(tmp_path))
    results = page.results
    assert not results.isHidden()
    assert results.badge.text() == "FAIL"
    assert results.reason.text().startswith("Test: retention 0.3281 is below the floor 0.5")
    assert results.figures["retention"].text() == "0.328"
    assert results.open_report.isEnabled()  # the copy's own report
    assert not results.older.isHidden()
    assert "evaluate again" in results.older.text()
    assert results.class_table.rowCount() == 0
    assert "evaluate again" in results.edge_verdict.text()


def test_cancel_stops_a_running_evaluation(qtbot, page, tmp_path, trained_student):
    project = student_project(tmp_path, trained_student)
    page.context.open_project(project)
    page.latency_runs.setValue(10_000)  # long enough that the cancel always lands first
    page.threads.setValue(1)
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(page.worker.progress, timeout=60_000):
        pass
    qtbot.mouseClick(page.job_panel.cancel_button, Qt.MouseButton.LeftButton)
    assert page.job_panel.cancel_button.text() == "Force stop"
    assert page.worker.wait_finished(120_000)
    assert page.worker.outcome == "cancelled"
    assert page.banner.level() == "info"
    assert "stopped" in page.banner.message()
    with page.context.project() as opened:
        assert [r.status for r in list_runs(opened, "evaluate")] == ["cancelled"]
    assert page.results.isHidden()  # nothing half-evaluated is shown


def test_evaluating_before_training_is_an_inline_error(qtbot, page, new_project):
    page.context.open_project(new_project)
    page.latency_check.setChecked(False)
    run_through_page(qtbot, page)
    assert page.worker.outcome == "failed"
    assert page.banner.level() == "error"
    assert "label set" in page.banner.message() or "trained" in page.banner.message()
    assert page.banner.hint()
    assert page.run_button.isEnabled()
