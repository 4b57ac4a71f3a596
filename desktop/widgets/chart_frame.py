"""One look for every QtCharts view: the chart's white face filling the view, no grey band.

QtCharts draws the chart inset by its layout's margins over the view's own background,
which is the window grey: inside the white group boxes that shows as a grey frame.
"""

from __future__ import annotations

from PySide6.QtCharts import QChart, QChartView
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

SURFACE = QColor("#ffffff")  # the stylesheet's group-box surface


def plain_chart(view: QChartView, chart: QChart) -> None:
    """Make ``chart`` fill ``view`` edge to edge on the page's white, without rounding."""
    chart.setBackgroundRoundness(0)
    chart.setBackgroundBrush(QBrush(SURFACE))
    chart.setBackgroundPen(Qt.PenStyle.NoPen)
    layout = chart.layout()
    if layout is not None:
        layout.setContentsMargins(0, 0, 0, 0)
    view.setBackgroundBrush(QBrush(SURFACE))
    view.setFrameShape(QChartView.Shape.NoFrame)
