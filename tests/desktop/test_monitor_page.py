"""The Monitor page judges a real prediction log in the worker process: a shifted replay
shows its windows on the chart, raises alerts with what to do next, and lists the
worst-drifting requests as the server kept them (anonymized); Re-distill needs a result."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "monitor"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "teacher"))

from monitor_helpers import build_monitor_project, shifted, times, unshifted

from core.jobs.registry import REDISTILL
from core.monitor.replay import replay
from desktop.pages.monitor_page import MonitorPage


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_monitor_project(tmp_path_factory.mktemp("monitor-page"))


@pytest.fixture
def page(qtbot, app_context):
    widget = MonitorPage(app_context)
    qtbot.addWidget(widget)
    widget.resize(1100, 1200)
    widget.show()
    return widget


def test_a_shifted_replay_raises_alerts_on_the_page(page, app_context, built, tmp_path, qtbot):
    project = shutil.copytree(built, tmp_path / "mon")
    texts = unshifted(120) + shifted(120)
    at = times(len(texts))
    failed = [(at[10 + i], "model_error", 500) for i in range(6)]  # in the first hour
    replay(project / "exports" / "tiny", texts, tmp_path / "log", times=at,
           keep=lambda t: ("anonymized", t.encode()), errors=failed)  # fmt: skip
    app_context.open_project(project)
    page.refresh()
    assert not page.redistill_button.isEnabled()  # nothing judged yet
    page.log_edit.setText(str(tmp_path / "log"))
    page.window_combo.setCurrentText("hour")
    page.judge_button.click()
    qtbot.waitUntil(lambda: not page.busy(), timeout=120_000)
    qtbot.waitUntil(lambda: page.alert_table.rowCount() > 0, timeout=10_000)
    assert page.chart.point_count("traffic") >= 4  # 240 requests: hourly windows of 60
    assert page.chart.point_count("estimate") >= 4
    assert page.chart.point_count("floor") == 2
    kinds = {page.alert_table.item(r, 2).text() for r in range(page.alert_table.rowCount())}
    assert "input drift" in kinds
    assert "error rate" in kinds  # 6 of 66 requests failed in the first window
    assert page.chart.point_count("errors") >= 4
    assert all(page.alert_table.item(r, 4).text() for r in range(page.alert_table.rowCount()))
    assert "calibrated" in page.note_label.text() or "Warning" in page.note_label.text()
    worst = [page.worst_list.item(i).text() for i in range(page.worst_list.count())]
    assert worst
    assert all("quokkaphone" in text for text in worst[:5])  # the shifted requests first
    assert page.redistill_button.isEnabled()
    assert page.redistill_config().budget == 500
    assert page.redistill_config().layers is None  # "same as now"
    page.layers_spin.setValue(4)
    assert page.redistill_config().layers == 4
    assert not page.start_combo.isEnabled()  # a new size is cut from the base
    page.layers_spin.setValue(0)
    assert page.start_combo.isEnabled()


def test_a_redistill_stopped_for_parity_resumes_with_an_audited_reason(
    page, app_context, built, tmp_path, qtbot
):
    from core.jobs.runs import create_run, get_run, mark_finished, run_config
    from core.monitor.config import RedistillConfig
    from core.project import Project

    project_dir = shutil.copytree(built, tmp_path / "mon")
    # A re-distillation whose export step refused INT8 parity, as the export stage words it.
    with Project.open(project_dir) as project:
        run_id = create_run(project, REDISTILL, RedistillConfig(budget=40))
        mark_finished(
            project,
            run_id,
            "failed",
            error_class="ExportRefusedError",
            error_message="the int8 model agrees with the PyTorch student on 97.50% "
            "of the test inputs, below the 99% threshold; refusing to write the bundle",
        )
    app_context.open_project(project_dir)
    page.refresh()
    assert not page.parity_box.isHidden()
    page.parity_button.click()  # no reason: refused
    assert "needs a reason" in page.banner.message()
    page.parity_reason.setText("the shifted slice matters more than 2 points of parity")
    page.parity_button.click()
    assert page.worker is not None
    assert page.worker.run_id == run_id  # the stopped run resumes, not a new one
    qtbot.waitUntil(lambda: not page.busy(), timeout=120_000)
    # This project has no production traffic: the resumed run stops again, not for parity.
    qtbot.waitUntil(lambda: page.parity_box.isHidden(), timeout=10_000)
    with Project.open(project_dir) as project:
        stored = run_config(project, REDISTILL, get_run(project, run_id))
        changes = project.store.query(
            "SELECT details FROM audit WHERE action = 'run.config_change'"
        )
    assert stored.override_parity == "the shifted slice matters more than 2 points of parity"
    assert stored.budget == 40
    assert any("override_parity" in row["details"] for row in changes)


def test_a_redistillation_below_the_slice_floor_says_why_and_what_to_try_on_the_page(page):
    from core.monitor.config import RedistillResult, SliceFigures

    note = ("the new bundle's agreement with the teacher on the production slice is below the "
            "floor: do not ship it; a 3-layer student may be too small for this traffic: try "
            "`stillroom redistill P --layers 4`")  # fmt: skip
    result = RedistillResult(
        parent_sha="a" * 64, chosen=492, slice_rows=333, teacher_cost=0.0,
        train_run="train-20261206T155802-dba908", evaluate_run="evaluate-20261206T160044-72611d",
        export_run="export-20261206T160200-aaaaaa", bundle=Path("/p/exports/b-r1"), passed=False,
        before=SliceFigures("parent bundle", 333, 0.85, 0.745, 0.808, 0.884),
        after=SliceFigures("new bundle", 333, 0.865, 0.698, 0.824, 0.897),
        slice_floor=0.879, notes=(note,), test_passed=True,
    )  # fmt: skip
    page.on_stage_succeeded(REDISTILL.key, result)
    shown = page.banner.hint()
    assert page.banner.message() == "Re-distilled: do not ship it yet."
    assert "evaluate-20261206T160044-72611d" in shown  # the run id as it is, not lower-cased
    assert "production slice: agreement 86.5% is below the floor 87.9%" in shown
    assert "--layers 4" in shown
    assert "set Student layers" in shown
