"""The project page against real projects: create, open, recent, floor, calculator."""

from __future__ import annotations

import os
import re

import pytest

from core.configs import to_json
from core.evaluate.config import EvaluateConfig, EvaluateResult, SpeedRow
from core.evaluate.worth_it import load_inputs
from core.jobs import runs
from core.jobs.registry import EVALUATE, TRAIN
from core.project import Project, QualityFloor
from core.store import audit
from desktop.pages.project_page import ProjectPage


@pytest.fixture
def page(qtbot, app_context):
    page = ProjectPage(app_context)
    qtbot.addWidget(page)
    page.show()
    return page


def test_create_a_project_from_the_form(page, tmp_path):
    assert page.views.currentWidget() is page.start_view
    page.name_edit.setText("triage")
    page.location_edit.setText(str(tmp_path))
    page.labels_edit.setText("billing, clinical , other")
    page.new_floor.retention.setValue(92.5)
    page.new_floor.use_max_ece.setChecked(True)
    page.new_floor.max_ece.setValue(0.08)
    page.create_button.click()
    assert page.context.project_dir == (tmp_path / "triage").resolve()
    with Project.open(tmp_path / "triage") as project:
        settings = project.settings
    assert settings.labels == ("billing", "clinical", "other")
    assert settings.floor == QualityFloor(0.925, None, 0.08)
    assert page.views.currentWidget() is page.project_view
    assert page.labels_label.text() == "billing, clinical, other"
    assert page.banner.level() == "info"


def test_a_bad_form_is_an_inline_error(page, tmp_path):
    page.create_button.click()
    assert page.banner.message() == "Give the project a name."
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    page.name_edit.setText("taken")
    page.location_edit.setText(str(tmp_path))
    page.create_button.click()
    assert page.banner.level() == "error"
    assert "is not an empty folder" in page.banner.message()
    page.name_edit.setText("one-label")
    page.labels_edit.setText("only")
    page.create_button.click()
    assert "at least two labels" in page.banner.message()
    assert page.context.project_dir is None


def test_generation_has_no_labels(page):
    page.labels_edit.setText("a,b")
    page.task_combo.setCurrentIndex(page.task_combo.findData("generation"))
    assert not page.labels_edit.isEnabled()
    assert page.labels_edit.text() == ""


def test_recent_projects_open_with_a_double_click(qtbot, page, new_project, tmp_path):
    page.context.open_project(new_project)
    page.context.close_project()
    assert page.views.currentWidget() is page.start_view
    item = page.recent_list.item(0)
    assert item.toolTip() == str(new_project.resolve())
    page.recent_list.itemActivated.emit(item)
    assert page.context.project_dir == new_project.resolve()


def test_the_floor_can_change_before_training_and_is_audited(page, new_project):
    page.context.open_project(new_project)
    assert page.floor_form.retention.isEnabled()
    assert not page.save_floor_button.isEnabled()
    page.floor_form.retention.setValue(97.0)
    assert page.save_floor_button.isEnabled()
    page.save_floor_button.click()
    with Project.open(new_project) as project:
        assert project.settings.floor.min_retention == 0.97
        assert audit.entries(project.store, 1)[0].action == "floor.change"
    assert page.banner.message() == "The quality floor was saved."


def test_the_floor_is_read_only_once_training_started(page, new_project):
    with Project.open(new_project) as project:
        run_id = runs.create_run(project, TRAIN, {})
        runs.mark_running(project, run_id, os.getpid())
        runs.mark_finished(project, run_id, "failed", error_class="X", error_message="x")
    page.context.open_project(new_project)
    assert not page.floor_form.retention.isEnabled()
    assert not page.floor_form.use_min_metric.isEnabled()
    assert page.save_floor_button.isHidden()
    assert "training has started" in page.floor_locked_label.text()


def test_the_calculator_computes_and_saves(page, new_project):
    page.context.open_project(new_project)
    form = page.worth_it
    # Nothing entered yet: no price is made up, the page says what to enter.
    assert form.answer.text().startswith("Enter the teacher's price to see savings.")
    assert not re.search(r"\d\.\d\d", form.answer.text())
    form.daily.setValue(20_000)
    form.price.setValue(2.0)
    form.currency.setText("EUR")
    form.currency.textEdited.emit("EUR")
    text = form.answer.text()
    assert "0.00200 EUR a request" in text
    assert "14,600.00 EUR a year" in text
    assert "Run an evaluation" in form.measured_label.text()
    form.basis.setCurrentIndex(form.basis.findData("per_1m_tokens"))
    assert form.tokens.isEnabled()
    form.latency_need.setValue(250)
    assert "within 250 ms" in form.answer.text()
    page.save_worth_it_button.click()
    with Project.open(new_project) as project:
        saved = load_inputs(project)
    assert saved is not None
    assert saved.daily_requests == 20_000
    assert saved.price_basis == "per_1m_tokens"
    assert saved.latency_need_ms == 250
    assert saved.teacher_latency_ms is None  # "unknown"
    assert saved.currency == "EUR"
    assert saved.hardware_cost_per_hour is None  # "not entered"


def test_measured_student_values_appear_after_an_evaluation(page, new_project):
    with Project.open(new_project) as project:
        run_id = runs.create_run(project, EVALUATE, EvaluateConfig())
        speed = SpeedRow("student", "student", 2.0, 8.0, 250.0, 1, 1.0, 1.0)
        result = EvaluateResult(
            run_id=run_id, task="classification", primary_metric="macro_f1",
            reference="human", student_dir=project.path / "student", teacher_id=None,
            passed=True, test_passed=True, edge_passed=None, failures=(), temperature=None,
            calibration_file=None, report_html=project.path / "report.html", report_pdf=None,
            headline=(), notes=(), speed=(speed,),
        )  # fmt: skip
        runs.mark_finished(project, run_id, "succeeded", result=to_json(result, project.path))
    page.context.open_project(new_project)
    form = page.worth_it
    form.latency_need.setValue(100)
    text = form.measured_label.text()
    assert run_id in text
    assert "8.0 ms" in text
    assert "(fast enough)" in text
    assert "250 requests a second" in text
    # No volume, hardware cost or price entered: no cost, no saving, just what to enter.
    assert "saving" not in text
    assert "Enter the daily volume and the hardware's cost per hour" in text
    form.daily.setValue(10_000)
    form.hardware.setValue(2.0)
    assert "enter the teacher's price to see savings" in form.measured_label.text()
    form.price.setValue(1.0)
    assert "saving" in form.measured_label.text()


def test_every_setting_has_a_tooltip(page):
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit, QPushButton

    # Both views (start, project) are built up front, so one pass covers every field.
    for kind in (QLineEdit, QAbstractSpinBox, QComboBox):
        for widget in page.findChildren(kind):
            if widget.objectName() == "qt_spinbox_lineedit":
                continue
            assert widget.toolTip(), f"{kind.__name__} {widget.objectName()!r} has no tooltip"
    for button in page.findChildren(QPushButton):
        assert button.toolTip() or button.text(), button
