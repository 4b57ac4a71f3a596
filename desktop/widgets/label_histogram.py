"""Records per label and split: a grouped bar chart over a table with the exact counts.

The table is the accessible form (keyboard, screen readers, copy); the chart is the glance.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QValueAxis
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets.chart_frame import plain_chart
from desktop.widgets.result_tables import fit_height

SPLIT_TITLES = {"train": "Train", "validation": "Validation", "test": "Test", "edge": "Edge cases"}
SPLIT_COLOURS = {"train": "#3b6ea5", "validation": "#7aa95c", "test": "#d08c3a", "edge": "#9b5fa6"}
NO_LABEL = "(no label)"

Histogram = Mapping[str, Mapping[str | None, int]]


class LabelHistogram(QWidget):
    """``{split: {label: count}}`` as a chart and a table (a row per label, a column per split)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(self)
        self.table.setObjectName("labelHistogramTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Records per label in each split; edge cases are held out.")
        self.table.setAccessibleName("label counts per split")
        self.chart = QChart()
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart, self)
        plain_chart(self.chart_view, self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(200)
        self.chart_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.chart_view.setToolTip(self.table.toolTip())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.chart_view, 1)
        layout.addWidget(self.table)
        self._counts: dict[str, dict[str, int]] = {}

    def set_counts(self, histogram: Histogram) -> None:
        """Show the counts; an empty mapping clears the chart and the table."""
        splits = [s for s in SPLIT_TITLES if s in histogram]
        labels: list[str] = []
        for split in splits:
            for label in histogram[split]:
                name = NO_LABEL if label is None else str(label)
                if name not in labels:
                    labels.append(name)
        self._counts = {
            split: {
                (NO_LABEL if label is None else str(label)): int(n)
                for label, n in histogram[split].items()
            }
            for split in splits
        }
        self._fill_table(splits, labels)
        self._fill_chart(splits, labels)

    def count(self, split: str, label: str) -> int:
        """The count shown for ``label`` in ``split`` (0 if none)."""
        return self._counts.get(split, {}).get(label, 0)

    def _fill_table(self, splits: list[str], labels: list[str]) -> None:
        headers = ["Label", *(SPLIT_TITLES[s] for s in splits), "Total"]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(labels))
        self.table.setHorizontalHeaderLabels(headers)
        for row, label in enumerate(labels):
            self.table.setItem(row, 0, QTableWidgetItem(label))
            values = [self.count(split, label) for split in splits]
            for column, value in enumerate([*values, sum(values)], start=1):
                item = QTableWidgetItem(f"{value:,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        fit_height(self.table, most_rows=10)  # no empty band under the last label

    def _fill_chart(self, splits: list[str], labels: list[str]) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        if not labels:
            return
        series = QBarSeries()
        for split in splits:
            bars = QBarSet(SPLIT_TITLES[split])
            bars.setColor(QColor(SPLIT_COLOURS[split]))
            bars.append([float(self.count(split, label)) for label in labels])
            series.append(bars)
        self.chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append(labels)
        values = QValueAxis()
        values.setLabelFormat("%d")
        top = max((self.count(s, label) for s in splits for label in labels), default=1)
        values.setRange(0, max(1, top))
        self.chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(values, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(categories)
        series.attachAxis(values)
