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
    replay(project / "exports" / "tiny", texts, tmp_path / "log", times=times(len(texts)),
           keep=lambda t: ("anonymized", t.encode()))  # fmt: skip
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
    assert all(page.alert_table.item(r, 4).text() for r in range(page.alert_table.rowCount()))
    assert "calibrated" in page.note_label.text() or "Warning" in page.note_label.text()
    worst = [page.worst_list.item(i).text() for i in range(page.worst_list.count())]
    assert worst
    assert all("quokkaphone" in text for text in worst[:5])  # the shifted requests first
    assert page.redistill_button.isEnabled()
    assert page.redistill_config().budget == 500
