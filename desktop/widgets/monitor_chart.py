"""The Monitor page's chart (QtCharts): per window, the estimated quality with its 95% band,
the shadow agreement, the input-drift score, the error rate (refused or failed requests) and
the floor as a line (left axis, 0..1), and the traffic (requests per window, right axis)."""

from __future__ import annotations

from PySide6.QtCharts import QAreaSeries, QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from core.monitor.config import MonitorResult
from desktop.widgets.chart_frame import plain_chart

# name → (legend, colour, dashed)
LINES = {
    "estimate": ("Estimated macro-F1", "#2f6fb3", False),
    "shadow": ("Shadow agreement", "#2e8b57", False),
    "drift": ("Input drift (AUC)", "#d9822b", False),
    "errors": ("Error rate", "#7b3fa0", False),
    "floor": ("Floor", "#b3261e", True),
    "traffic": ("Requests (right axis)", "#7b8794", True),
}
EMPTY_TITLE = "Judge a prediction log: its windows appear here."


class MonitorChart(QChartView):
    """One chart of every window of a monitor result."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("monitorChart")
        self.setAccessibleName("Monitoring over time")
        self.setToolTip(
            "Per window: the quality estimated from the calibrated confidences (band: 95%), "
            "the shadow teacher's agreement, how far the inputs are from the training data "
            "(0.5: alike, 1: apart), the share of requests refused or failed, and the floor."
        )
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(320)
        chart = QChart()
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self._x = _axis("Window", "%d")
        self._y = _axis("Score", "%.2f")
        self._y.setRange(0.0, 1.0)
        self._traffic_axis = _axis("Requests", "%d")
        chart.addAxis(self._x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self._y, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(self._traffic_axis, Qt.AlignmentFlag.AlignRight)
        self._low, self._high = QLineSeries(), QLineSeries()
        self._band = QAreaSeries(self._high, self._low)
        self._band.setName("95% band")
        self._band.setBrush(QBrush(QColor(47, 111, 179, 50)))
        self._band.setPen(QPen(Qt.PenStyle.NoPen))
        chart.addSeries(self._band)
        self._band.attachAxis(self._x)
        self._band.attachAxis(self._y)
        self.series: dict[str, QLineSeries] = {}
        for name, (label, colour, dashed) in LINES.items():
            series = QLineSeries()
            series.setName(label)
            pen = QPen(QColor(colour), 2)
            if dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            series.setPen(pen)
            series.setPointsVisible(name != "floor")
            chart.addSeries(series)
            series.attachAxis(self._x)
            series.attachAxis(self._traffic_axis if name == "traffic" else self._y)
            self.series[name] = series
        self.setChart(chart)
        plain_chart(self, chart)
        self.show_result(None)

    def show_result(self, result: MonitorResult | None) -> None:
        """Draw every window of ``result`` (None: empty)."""
        for series in (*self.series.values(), self._low, self._high):
            series.clear()
        windows = () if result is None else result.windows
        self.chart().setTitle("" if windows else EMPTY_TITLE)
        _window_ticks(self._x, len(windows))
        peak = max((w.rows for w in windows), default=1)
        self._traffic_axis.setRange(0, max(peak, 1) * 1.1)
        self._traffic_axis.applyNiceNumbers()  # 0, 1000, 2000… not 0, 726, 1452
        for w in windows:
            x = w.index + 1
            self.series["traffic"].append(QPointF(x, w.rows))
            if w.macro_f1 is not None:
                self.series["estimate"].append(QPointF(x, w.macro_f1))
                self._low.append(QPointF(x, w.macro_f1_low or w.macro_f1))
                self._high.append(QPointF(x, w.macro_f1_high or w.macro_f1))
            if w.shadow_agreement is not None:
                self.series["shadow"].append(QPointF(x, w.shadow_agreement))
            if w.input_auc is not None:
                self.series["drift"].append(QPointF(x, w.input_auc))
            if w.error_rate is not None:
                self.series["errors"].append(QPointF(x, w.error_rate))
        floor = None if result is None else result.floors.metric_floor
        if floor is not None and windows:
            self.series["floor"].append(QPointF(1, floor))
            self.series["floor"].append(QPointF(max(len(windows), 2), floor))

    def point_count(self, name: str) -> int:
        return self.series[name].count()


def window_step(count: int) -> int:
    """A whole tick step (1, 2, 5, 10, 20…) that puts at most ten ticks on ``count``
    windows: two windows read 1, 2 — not 1, 1, 1, 1, 2."""
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if (max(count, 2) - 1) / step <= 10:
                return step
        scale *= 10


def _window_ticks(axis: QValueAxis, count: int) -> None:
    axis.setRange(1, max(count, 2))
    axis.setTickType(QValueAxis.TickType.TicksDynamic)
    axis.setTickAnchor(1)
    axis.setTickInterval(window_step(count))


def _axis(title: str, label_format: str) -> QValueAxis:
    axis = QValueAxis()
    axis.setTitleText(title)
    axis.setLabelFormat(label_format)
    return axis
