"""Training curves (QtCharts): training loss, validation loss and validation accuracy by step.

Fed live from the worker's ``metric`` signal, or all at once from a run's curves.jsonl when
a project is reopened. Loss is on the left axis; accuracy, always 0..1, on the right.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from desktop.widgets.chart_frame import plain_chart

# curves.jsonl key → (legend text, colour, on the accuracy axis)
SERIES = {
    "loss": ("Training loss", "#2f6fb3", False),
    "eval_loss": ("Validation loss", "#d9822b", False),
    "eval_accuracy": ("Validation accuracy", "#2e8b57", True),
    "eval_macro_f1": ("Validation macro-F1", "#7a4fb3", True),
    "eval_worst_class_retention": ("Worst class: share of the teacher's F1", "#b0463c", True),
}


EMPTY_TITLE = "The curves appear here while a student trains."
EMPTY_STEPS = 10


class CurveChart(QChartView):
    """A line chart of the training curves, one series per name in :data:`SERIES`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("curveChart")
        self.setAccessibleName("Training curves")
        self.setToolTip(
            "Training loss should fall; validation accuracy should rise. If validation loss "
            "rises while training loss keeps falling, the student is memorising the data."
        )
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        # Tall enough that three curves with their legend stay readable (a plot area of
        # about 200 px); the page scrolls to it when a run starts.
        self.setMinimumHeight(300)
        chart = QChart()
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)  # no redraw storms
        chart.setTitleBrush(QColor("#52606d"))  # the stylesheet's muted text
        self._x = _axis("Step", "%d")
        self._loss_axis = _axis("Loss", "%.2f")
        self._accuracy_axis = _axis("Accuracy", "%.2f")
        self._accuracy_axis.setRange(0.0, 1.0)
        chart.addAxis(self._x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self._loss_axis, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(self._accuracy_axis, Qt.AlignmentFlag.AlignRight)
        self._series: dict[str, QLineSeries] = {}
        for name, (label, colour, on_accuracy) in SERIES.items():
            series = QLineSeries()
            series.setName(label)
            series.setPen(QPen(QColor(colour), 2))
            series.setPointsVisible(True)
            chart.addSeries(series)
            series.attachAxis(self._x)
            series.attachAxis(self._accuracy_axis if on_accuracy else self._loss_axis)
            self._series[name] = series
        self.setChart(chart)
        plain_chart(self, chart)
        self.clear()

    def add_point(self, name: str, step: int, value: float) -> None:
        """Append one point; names outside :data:`SERIES` (learning rate, ...) are ignored."""
        series = self._series.get(name)
        if series is None or step < 0:
            return
        series.append(QPointF(step, value))
        self.chart().setTitle("")
        self._max_step = max(self._max_step, step)
        self._x.setRange(0, max(self._max_step, 1))
        self._x.applyNiceNumbers()  # whole, round steps: 0, 50, 100… not 0, 44, 88
        if not SERIES[name][2]:
            self._loss_low = min(self._loss_low, value)
            self._loss_high = max(self._loss_high, value)
            pad = max((self._loss_high - self._loss_low) * 0.05, 0.01)
            self._loss_axis.setRange(max(self._loss_low - pad, 0.0), self._loss_high + pad)

    def set_points(self, points: Iterable[tuple[str, int, float]]) -> None:
        """Replace every curve with ``(name, step, value)`` points."""
        self.clear()
        for name, step, value in points:
            self.add_point(name, step, value)

    def clear(self) -> None:
        for series in self._series.values():
            series.clear()
        self._max_step = 0
        self._loss_low, self._loss_high = float("inf"), float("-inf")
        self._x.setRange(0, EMPTY_STEPS)  # 0..1 would label its ticks 0, 0, 0, 0, 1
        self._loss_axis.setRange(0.0, 1.0)
        self.chart().setTitle(EMPTY_TITLE)

    def point_count(self, name: str | None = None) -> int:
        """Points in one curve, or in all of them."""
        names = [name] if name is not None else list(self._series)
        return sum(self._series[n].count() for n in names if n in self._series)


def _axis(title: str, label_format: str) -> QValueAxis:
    axis = QValueAxis()
    axis.setTitleText(title)
    axis.setLabelFormat(label_format)
    return axis
