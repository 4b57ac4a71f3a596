"""The main window on real projects: sidebar states, unlock order, staleness, closing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from desktop_fixtures import import_config, run_stage_in_process, write_tiny_csv
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from core.jobs import runs
from core.jobs.registry import IMPORT, PIPELINE, SELFTEST, stage
from core.jobs.selftest import SelftestConfig
from core.project import Project
from desktop.main_window import STAGES, MainWindow, load_page_class

HEAVY = ("torch", "transformers", "presidio_analyzer", "spacy", "onnxruntime", "optimum")


@pytest.fixture
def window(qtbot, app_context):
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    window.show()
    return window


def _item(window, key):
    return window.sidebar.item([k for k, _ in STAGES].index(key))


def _enabled(window, key):
    return bool(_item(window, key).flags() & Qt.ItemFlag.ItemIsEnabled)


def _finish_run(project_dir, key):
    with Project.open(project_dir) as project:
        run_id = runs.create_run(project, stage(key), {})
        runs.mark_running(project, run_id, os.getpid())
        runs.mark_finished(project, run_id, "succeeded", result={})


def test_every_pipeline_stage_has_a_page_that_knows_its_stage():
    for pipeline_stage in PIPELINE:
        page_class = load_page_class(pipeline_stage.page)
        assert page_class.stage is pipeline_stage
        assert page_class.title == pipeline_stage.title
    assert load_page_class("project").stage is None


def test_without_a_project_only_the_project_page_opens(window):
    assert window.current_stage() == "project"
    assert _enabled(window, "project")
    for key, _ in STAGES[1:]:
        assert not _enabled(window, key), key
    assert "Open or create a project first." in _item(window, "data").toolTip()
    assert window.project_label.text() == "No project open"
    assert window.device_label.text() == "Device: CPU"


def test_stages_unlock_in_order_on_a_real_project(window, imported_project):
    window.context.open_project(imported_project)
    assert window.windowTitle() == f"Stillroom — {imported_project.name}"
    assert str(imported_project) in window.project_label.text()
    assert window.states["project"] == "done"
    assert window.states["data"] == "done"
    assert "60 records imported" in _item(window, "data").toolTip()
    assert window.states["anonymize"] == "not_started"
    assert _enabled(window, "anonymize")
    for key in ("teacher", "train", "evaluate", "export"):
        assert not _enabled(window, key), key
        assert window.states[key] == "locked"
    assert not window.show_stage("train")
    assert window.current_stage() == "project"


def test_finished_stages_stay_browsable_and_reimport_makes_them_stale(
    window, imported_project, tmp_path
):
    window.context.open_project(imported_project)
    _finish_run(imported_project, "anonymize")
    _finish_run(imported_project, "teach")
    window.context.stages_changed.emit()
    assert window.states["anonymize"] == "done"
    assert window.show_stage("anonymize")
    assert window.states["train"] == "not_started"
    second = write_tiny_csv(tmp_path / "more.csv", per_label=3)
    second.write_text(second.read_text().replace("writes", "wrote"))
    run_stage_in_process(imported_project, IMPORT, import_config(second))
    window.context.stages_changed.emit()
    for key, why in (
        ("anonymize", "The data was re-imported after anonymization ran"),
        ("teacher", "The data was re-imported after the teacher ran"),
    ):
        assert window.states[key] == "stale"
        assert why in _item(window, key).toolTip()
        assert _enabled(window, key)


def test_ctrl_number_switches_pages(qtbot, window, imported_project):
    window.context.open_project(imported_project)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.current_stage() == "data"
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)  # locked
    assert window.current_stage() != "train"
    assert "Train" in window.statusBar().currentMessage()
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_stage() == "project"


def test_opening_a_folder_that_is_not_a_project_says_so_inline(window, tmp_path):
    assert not window.open_project(tmp_path)
    banner = window.page("project").banner
    assert banner.level() == "error"
    assert "is not a Stillroom project" in banner.message()


def test_recent_projects_menu(window, new_project):
    window.context.open_project(new_project)
    window._fill_recent_menu()
    texts = [action.text() for action in window.recent_menu.actions()]
    assert texts == [str(new_project.resolve())]


def test_closing_while_a_job_runs_asks_then_cancels_cleanly(
    qtbot, window, new_project, monkeypatch
):
    window.context.open_project(new_project)
    page = window.page("project")
    worker = page.start_stage(SELFTEST, SelftestConfig(steps=10_000, delay_s=0.02))
    qtbot.waitUntil(lambda: page.job_panel.message_label.text().startswith("step"), timeout=20_000)
    asked = []

    def answer(reply):
        def question(*args, **kwargs):
            asked.append(args[2])
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    assert not window.close()
    assert worker.is_running()
    assert len(asked) == 1
    assert "Project is still running" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    assert window.close()
    assert not worker.is_running()
    assert worker.outcome == "cancelled"
    with Project.open(new_project) as project:
        assert runs.get_run(project, worker.run_id).status == "cancelled"


def test_closing_when_idle_does_not_ask(window, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: pytest.fail("asked"))
    assert window.close()


def test_no_heavy_library_is_imported_when_the_window_opens(tmp_path):
    script = (
        "import json, sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from desktop.resources import stylesheet\n"
        "app.setStyleSheet(stylesheet())\n"
        "from desktop.main_window import MainWindow\n"
        "window = MainWindow()\n"
        "window.show()\n"
        "app.processEvents()\n"
        f"heavy = lambda: sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "at_open = heavy()\n"
        "from desktop.main_window import STAGES\n"
        "for key, _ in STAGES:\n"
        "    window.page(key)\n"
        "print(json.dumps([at_open, heavy()]))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    at_open, with_every_page = json.loads(done.stdout.strip().splitlines()[-1])
    assert at_open == []
    assert with_every_page == [], "a page imports a heavy library at module level"
