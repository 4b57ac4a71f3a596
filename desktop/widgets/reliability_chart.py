"""A reliability diagram (QtCharts): accuracy against confidence per bin, before and after the
fitted temperature, with the diagonal of perfect calibration.

A point below the diagonal is a bin where the model is more confident than it is right.
Bins are those the evaluate stage stored (``reliability.json``); empty bins are not drawn,
and each point is labelled with its bin's sample count, as in the report (a bin of one
record can only be right or wrong: its 0 or 1 says little).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCharts import (
    QChart,
    QChartView,
    QLineSeries,
    QScatterSeries,
    QValueAxis,
    QXYSeries,
)
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from core.evaluate.figures import ReliabilityCurve
from desktop.widgets.chart_frame import plain_chart

BEFORE, AFTER, DIAGONAL = QColor("#e08a1e"), QColor("#2f6db5"), QColor("#9aa3ad")


def curve_points(curve: ReliabilityCurve) -> list[tuple[float, float]]:
    """(mean confidence, accuracy) of every non-empty bin, in bin order."""
    return [(conf, acc) for conf, acc, _ in curve_bins(curve)]


def curve_bins(curve: ReliabilityCurve) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, records) of every non-empty bin, in bin order."""
    return [
        (conf, acc, int(n))
        for conf, acc, n in zip(curve.confidence, curve.accuracy, curve.counts, strict=True)
        if n > 0
    ]


class ReliabilityChart(QChartView):
    """Shows one model's reliability before and (if fitted) after temperature scaling."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reliabilityChart")
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumSize(320, 260)
        self.setAccessibleName("Reliability diagram")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        chart = QChart()
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.setChart(chart)
        plain_chart(self, chart)
        self.set_curves(None, None)

    def set_curves(
        self, before: ReliabilityCurve | None, after: ReliabilityCurve | None, *, title: str = ""
    ) -> None:
        """Draw ``before`` (T = 1) and ``after`` (fitted T); either may be missing."""
        chart = self.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        x_axis, y_axis = _axis("confidence"), _axis("accuracy")
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        diagonal = _line("perfect calibration", [(0.0, 0.0), (1.0, 1.0)], DIAGONAL, dashed=True)
        series = [diagonal]
        if before is not None:
            series += _curve_series(f"before (ECE {before.ece:.3f})", before, BEFORE)
        if after is not None:
            series += _curve_series(f"after temperature (ECE {after.ece:.3f})", after, AFTER)
        for item in series:
            chart.addSeries(item)
            item.attachAxis(x_axis)
            item.attachAxis(y_axis)
        # Scatter series repeat their line's legend entry: show the lines only.
        for item in chart.series():
            for marker in chart.legend().markers(item):
                marker.setVisible(not isinstance(item, QScatterSeries))
        chart.setTitle(title or ("No calibration figures" if before is None else ""))
        self.setAccessibleDescription(_describe(before, after))

    def plotted(self) -> dict[str, list[tuple[float, float]]]:
        """Each line series' name and points (tests, accessibility)."""
        out: dict[str, list[tuple[float, float]]] = {}
        for item in self.chart().series():
            if isinstance(item, QLineSeries):
                out[item.name()] = [(p.x(), p.y()) for p in item.points()]
        return out

    def bin_labels(self) -> dict[str, list[str]]:
        """Each curve's per-point labels: the bins' sample counts (tests, accessibility)."""
        label = QXYSeries.PointConfiguration.LabelFormat
        return {
            item.name(): [
                str(item.pointConfiguration(i).get(label, "")) for i in range(item.count())
            ]
            for item in self.chart().series()
            if isinstance(item, QScatterSeries)
        }


def _axis(title: str) -> QValueAxis:
    axis = QValueAxis()
    axis.setRange(0.0, 1.0)
    axis.setTickCount(6)
    axis.setLabelFormat("%.1f")
    axis.setTitleText(title)
    return axis


def _line(
    name: str, points: Sequence[tuple[float, float]], colour: QColor, *, dashed: bool = False
) -> QLineSeries:
    series = QLineSeries()
    series.setName(name)
    series.append([QPointF(x, y) for x, y in points])
    pen = QPen(colour)
    pen.setWidthF(1.2 if dashed else 2.0)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    series.setPen(pen)
    return series


def _curve_series(
    name: str, curve: ReliabilityCurve, colour: QColor
) -> list[QLineSeries | QScatterSeries]:
    bins = curve_bins(curve)
    dots = QScatterSeries()
    dots.setName(name)
    dots.setMarkerSize(7.0)
    dots.setColor(colour)
    dots.setBorderColor(colour)
    dots.append([QPointF(x, y) for x, y, _ in bins])
    dots.setPointLabelsVisible(True)
    dots.setPointLabelsColor(colour)
    dots.setPointLabelsClipping(False)
    for index, (_, _, count) in enumerate(bins):
        dots.setPointConfiguration(index, {QXYSeries.PointConfiguration.LabelFormat: f"n={count}"})
    return [_line(name, [(x, y) for x, y, _ in bins], colour), dots]


def _describe(before: ReliabilityCurve | None, after: ReliabilityCurve | None) -> str:
    if before is None:
        return "No calibration figures for this evaluation."
    text = f"Expected calibration error {before.ece:.3f} before temperature scaling"
    if after is not None:
        text += f", {after.ece:.3f} after"
    return text + "."
