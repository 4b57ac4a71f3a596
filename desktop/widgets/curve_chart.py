"""Training curves (QtCharts): training loss, validation loss and validation accuracy by step.

Fed live from the worker's ``metric`` signal, or all at once from a run's curves.jsonl when
a project is reopened. Loss is on the left axis; accuracy, always 0..1, on the right. The
training loss is drawn smoothed (an exponential moving average) over its faint raw points;
hovering either shows the raw value. The best validation accuracy (the checkpoint the run
keeps) is marked, axes get round tick values, and an epoch axis runs along the top once the
run has reported its epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from PySide6.QtCharts import (
    QCategoryAxis,
    QChart,
    QChartView,
    QLineSeries,
    QScatterSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen
from PySide6.QtWidgets import QToolTip, QWidget

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
SMOOTHING = 0.6  # weight of the running average: TensorBoard's default
SMOOTHED = "loss_smoothed"
RAW_COLOUR = "#9dbbe0"


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
        # Whole epochs over the step axis (the two share one scale), labelled where they end.
        self._epoch_axis = QCategoryAxis()
        self._epoch_axis.setTitleText("Epoch")
        self._epoch_axis.setLabelsPosition(
            QCategoryAxis.AxisLabelsPosition.AxisLabelsPositionOnValue
        )
        chart.addAxis(self._epoch_axis, Qt.AlignmentFlag.AlignTop)
        self._epoch_axis.hide()
        self._series: dict[str, QLineSeries] = {}
        self._build_extra_series(chart)
        for name, (label, colour, on_accuracy) in SERIES.items():
            series = QLineSeries()
            series.setName(label)
            series.setPen(QPen(QColor(colour), 2))
            series.setPointsVisible(True)
            chart.addSeries(series)
            series.attachAxis(self._x)
            series.attachAxis(self._accuracy_axis if on_accuracy else self._loss_axis)
            self._series[name] = series
        raw = self._series["loss"]
        raw.setName("Training loss (raw)")
        raw.setPen(QPen(QColor(RAW_COLOUR), 1))
        raw.setPointsVisible(False)
        for series in (raw, self._smoothed):
            series.hovered.connect(self._show_raw)
        self.setChart(chart)
        plain_chart(self, chart)
        self.clear()

    def _build_extra_series(self, chart: QChart) -> None:
        self._smoothed = QLineSeries()
        self._smoothed.setName("Training loss (smoothed)")
        self._smoothed.setPen(QPen(QColor(SERIES["loss"][1]), 2))
        self._best = QScatterSeries()
        self._best.setName("Best checkpoint")
        self._best.setMarkerSize(16.0)
        self._best.setColor(QColor("#e0a100"))
        self._best.setBorderColor(QColor("#7a5600"))
        self._best.setMarkerShape(QScatterSeries.MarkerShape.MarkerShapeStar)
        self._keeps_last = False
        for series, axis in ((self._smoothed, self._loss_axis),
                             (self._best, self._accuracy_axis)):  # fmt: skip
            chart.addSeries(series)
            series.attachAxis(self._x)
            series.attachAxis(axis)

    def add_point(self, name: str, step: int, value: float) -> None:
        """Append one point; ``epoch`` sets the epoch axis; other names outside
        :data:`SERIES` (learning rate, ...) are ignored."""
        if name == "epoch" and step > 0 and value > 0:
            self._steps_per_epoch = step / value
            self._update_epoch_axis()
            return
        series = self._series.get(name)
        if series is None or step < 0:
            return
        series.append(QPointF(step, value))
        self.chart().setTitle("")
        self._max_step = max(self._max_step, step)
        self._x.setRange(0, max(self._max_step, 1))
        self._x.applyNiceNumbers()  # whole, round steps: 0, 50, 100… not 0, 44, 88
        self._update_epoch_axis()
        if name == "loss":
            self._raw[step] = value
            last = self._ema if self._ema is not None else value
            self._ema = SMOOTHING * last + (1 - SMOOTHING) * value
            self._smoothed.append(QPointF(step, self._ema))
        elif name in ("eval_macro_f1", "eval_accuracy"):
            self._consider_best(name, step, value)
        if not SERIES[name][2]:
            self._loss_low = min(self._loss_low, value)
            self._loss_high = max(self._loss_high, value)
            self._fit_loss_axis()

    @property
    def keeps_last(self) -> bool:
        """The run keeps its final weights, not its best checkpoint (a re-distillation)."""
        return self._keeps_last

    @keeps_last.setter
    def keeps_last(self, value: bool) -> None:
        self._keeps_last = value
        self._best.setName("Kept weights (the final ones)" if value else "Best checkpoint")

    def _consider_best(self, name: str, step: int, value: float) -> None:
        """The run keeps the checkpoint with the best macro-F1 (accuracy where no macro-F1
        is logged, as in older runs), or its last one when it keeps its final weights
        (``keeps_last``, a re-distillation): mark it."""
        if name == "eval_accuracy" and self._best_name == "eval_macro_f1":
            return
        if name != self._best_name:
            self._best_name, self._best_value = name, None
        if self.keeps_last or self._best_value is None or value > self._best_value:
            self._best_value = value
            self._best.replace([QPointF(step, value)])

    def _fit_loss_axis(self) -> None:
        """Round ticks with as many decimals as tell them apart (not 1.08, 1.08, 1.07)."""
        pad = max((self._loss_high - self._loss_low) * 0.05, 0.005)
        self._loss_axis.setRange(max(self._loss_low - pad, 0.0), self._loss_high + pad)
        self._loss_axis.applyNiceNumbers()
        span = self._loss_axis.max() - self._loss_axis.min()
        step = span / max(self._loss_axis.tickCount() - 1, 1)
        decimals = max(1, min(4, -math.floor(math.log10(step)) if step > 0 else 2))
        self._loss_axis.setLabelFormat(f"%.{decimals}f")

    def _update_epoch_axis(self) -> None:
        if self._steps_per_epoch is None:
            return
        axis, end = self._epoch_axis, self._x.max()
        for label in axis.categoriesLabels():
            axis.remove(label)
        epochs = int(end // self._steps_per_epoch)
        every = max(1, math.ceil(epochs / 10))  # at most about ten labels
        for epoch in range(every, epochs + 1, every):
            axis.append(str(epoch), epoch * self._steps_per_epoch)
        axis.setStartValue(0.0)
        axis.setRange(0.0, end)
        axis.show()

    def epoch_labels(self) -> list[tuple[str, float]]:
        """The epoch axis' labels and the steps they stand at (tests)."""
        axis = self._epoch_axis
        return [(label, axis.endValue(label)) for label in axis.categoriesLabels()]

    def _show_raw(self, point: QPointF, state: bool) -> None:
        if not state or not self._raw:
            QToolTip.hideText()
            return
        step = min(self._raw, key=lambda s: abs(s - point.x()))
        QToolTip.showText(
            QCursor.pos(), f"step {step}: training loss {self._raw[step]:.4f} (raw)", self
        )

    def raw_loss(self, step: int) -> float | None:
        """The raw training loss logged at ``step`` (what hovering shows)."""
        return self._raw.get(step)

    def best_checkpoint(self) -> tuple[float, float] | None:
        """(step, validation accuracy) of the marked best checkpoint."""
        points = self._best.points()
        return None if not points else (points[0].x(), points[0].y())

    def set_points(self, points: Iterable[tuple[str, int, float]]) -> None:
        """Replace every curve with ``(name, step, value)`` points."""
        self.clear()
        for name, step, value in points:
            self.add_point(name, step, value)

    def clear(self) -> None:
        for series in (*self._series.values(), self._smoothed, self._best):
            series.clear()
        self._raw: dict[int, float] = {}
        self._ema: float | None = None
        self._best_value: float | None = None
        self._best_name = ""
        self._steps_per_epoch: float | None = None
        self._epoch_axis.hide()
        self._loss_axis.setLabelFormat("%.2f")
        self._max_step = 0
        self._loss_low, self._loss_high = float("inf"), float("-inf")
        self._x.setRange(0, EMPTY_STEPS)  # 0..1 would label its ticks 0, 0, 0, 0, 1
        self._loss_axis.setRange(0.0, 1.0)
        self.chart().setTitle(EMPTY_TITLE)

    def point_count(self, name: str | None = None) -> int:
        """Points in one curve, or in all of them."""
        names = [name] if name is not None else list(self._series)
        found = {**self._series, SMOOTHED: self._smoothed}
        return sum(found[n].count() for n in names if n in found)


def _axis(title: str, label_format: str) -> QValueAxis:
    axis = QValueAxis()
    axis.setTitleText(title)
    axis.setLabelFormat(label_format)
    return axis
