"""The Monitor chart's window axis shows whole windows: two windows read 1, 2 (it read
1, 1, 1, 1, 2 on the demo), and a long log gets round steps."""

from __future__ import annotations

import pytest

from desktop.widgets.monitor_chart import MonitorChart, window_step


@pytest.mark.parametrize(
    ("count", "step"), [(0, 1), (2, 1), (11, 1), (12, 2), (25, 5), (60, 10), (250, 50)]
)
def test_the_window_step_is_whole_and_round(count, step):
    assert window_step(count) == step


def test_the_window_axis_ticks_at_whole_windows(qtbot):
    chart = MonitorChart()
    qtbot.addWidget(chart)
    chart.show_result(None)
    axis = chart._x
    assert (axis.min(), axis.max()) == (1, 2)
    assert axis.tickType() == axis.TickType.TicksDynamic
    assert (axis.tickAnchor(), axis.tickInterval()) == (1, 1)
