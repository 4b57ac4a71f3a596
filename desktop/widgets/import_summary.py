"""What an import did, read back from the store: counts, label histogram, edge-case set.

Fed :class:`core.data.summary.DatasetSummary` objects (counts and labels, never rows).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.data.summary import EDGE_CAP_RULE, EDGE_RULES, DatasetSummary
from desktop.widgets.form_fields import wrapped_label
from desktop.widgets.label_histogram import LabelHistogram

_COUNT_ROWS = (
    ("rows_read", "Rows read", "Data rows in the file (the header is not counted)."),
    ("rows_imported", "Records imported", "Rows kept as records of this project."),
    (
        "duplicates_dropped",
        "Duplicates dropped",
        "Rows whose text (after trimming spaces) was already in the project.",
    ),
    (
        "conflicting_labels",
        "…with a different label",
        "Of the duplicates, those whose label differed from the kept row's: check your labels.",
    ),
    ("empty_dropped", "Empty dropped", "Rows whose text cell was empty or only spaces."),
    ("oversize_dropped", "Oversize dropped", "Rows longer than the text limit, when skipped."),
)
_REASON_TITLES = {
    "user_flag": "Flagged by you",
    "rare_label": "Rare label",
    "longest": "Longest texts",
    "shortest": "Shortest texts",
    "non_ascii": "Mostly non-ASCII",
}


class ImportSummaryView(QWidget):
    """The imported datasets: pick one to see its counts, histogram and edge cases."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._summaries: list[DatasetSummary] = []
        self.dataset = QComboBox(self)
        self.dataset.setToolTip("The imported dataset whose counts are shown below.")
        self.dataset.setAccessibleName("imported dataset")
        self.dataset.currentIndexChanged.connect(self._show_current)
        chooser = QLabel("Data&set:", self)
        chooser.setBuddy(self.dataset)
        top = QHBoxLayout()
        top.addWidget(chooser)
        top.addWidget(self.dataset, 1)
        self.source = wrapped_label("", self, "datasetSource")
        # What one import did; hidden until there is one, so an empty project shows a
        # sentence rather than dashes, a header-only table and a blank chart. Built in
        # screen order (counts, edge cases, histogram): the tab order follows it.
        self.details = QWidget(self)
        row = QHBoxLayout()
        row.addWidget(self._build_counts(self.details), 1)
        row.addWidget(self._build_edges(self.details), 2)
        histogram_box = QGroupBox("Labels per split", self.details)
        self.histogram = LabelHistogram(histogram_box)
        QVBoxLayout(histogram_box).addWidget(self.histogram)
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 0, 0, 0)
        details.addLayout(row)
        details.addWidget(histogram_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.source)
        layout.addWidget(self.details, 1)

    def _build_counts(self, parent: QWidget) -> QGroupBox:
        self.counts: dict[str, QLabel] = {}
        box = QGroupBox("Counts", parent)
        form = QFormLayout(box)
        for key, title, tip in _COUNT_ROWS:
            value = QLabel("0", box)
            value.setObjectName(f"count_{key}")
            value.setToolTip(tip)
            name = QLabel(title, box)
            name.setToolTip(tip)
            form.addRow(name, value)
            self.counts[key] = value
        self.splits = wrapped_label("", box, "splitCounts")
        form.addRow(QLabel("Split", box), self.splits)
        return box

    def _build_edges(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Edge-case set", parent)
        self.edges = self._edge_table(box)
        cap = wrapped_label(EDGE_CAP_RULE, box)
        layout = QVBoxLayout(box)
        layout.addWidget(self.edges)
        layout.addWidget(cap)
        return box

    def set_summaries(self, summaries: Sequence[DatasetSummary]) -> None:
        """Show these datasets; the newest is selected."""
        self._summaries = list(summaries)
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for summary in self._summaries:
            self.dataset.addItem(
                f"#{summary.dataset_id} {summary.name} — {summary.rows_imported:,} records"
            )
        self.dataset.setCurrentIndex(len(self._summaries) - 1)
        self.dataset.blockSignals(False)
        self._show_current()

    def current(self) -> DatasetSummary | None:
        index = self.dataset.currentIndex()
        return self._summaries[index] if 0 <= index < len(self._summaries) else None

    def _edge_table(self, parent: QWidget) -> QTableWidget:
        table = QTableWidget(0, 3, parent)
        table.setObjectName("edgeCaseTable")
        table.setHorizontalHeaderLabels(["Reason", "Records", "Rule"])
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setTabKeyNavigation(False)
        table.setWordWrap(True)
        table.verticalHeader().setVisible(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        table.setToolTip(
            "Records held out of train, validation and test, to probe the student where it "
            "is most likely to fail. A record can have more than one reason."
        )
        table.setAccessibleName("edge cases by reason")
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The rules wrap, so the rows' heights follow the column's width.
        header.sectionResized.connect(lambda *_: self._fit_edges())
        return table

    def _fit_edges(self) -> None:
        """As tall as its rows: five short rules need no scroll bar."""
        self.edges.resizeRowsToContents()
        rows = self.edges.verticalHeader().length()
        header = self.edges.horizontalHeader().height()
        self.edges.setFixedHeight(header + rows + 2 * self.edges.frameWidth())

    def _show_current(self) -> None:
        summary = self.current()
        self.details.setVisible(summary is not None)
        self.dataset.setEnabled(bool(self._summaries))
        if summary is None:
            self.source.setText("Nothing imported yet: choose a file above and press Import.")
            for label in self.counts.values():
                label.setText("-")
            self.splits.setText("-")
            self.histogram.set_counts({})
            self.edges.setRowCount(0)
            self._fit_edges()
            return
        encoding = summary.encoding or "binary format"
        label = f", label column {summary.label_column!r}" if summary.label_column else ""
        self.source.setText(
            f"{summary.format.upper()}, {encoding}; text column {summary.text_column!r}"
            f"{label}; split seed {summary.seed}; imported {summary.imported_at[:16]}"
        )
        for key, label_widget in self.counts.items():
            label_widget.setText(f"{getattr(summary, key):,}")
        self.splits.setText(" · ".join(f"{name} {n:,}" for name, n in summary.split_counts.items()))
        self.histogram.set_counts(summary.labels_by_split)
        self._fill_edges(summary)

    def _fill_edges(self, summary: DatasetSummary) -> None:
        reasons = list(EDGE_RULES)  # every rule, so the user sees those that found nothing too
        self.edges.setRowCount(len(reasons))
        for row, reason in enumerate(reasons):
            count = QTableWidgetItem(f"{summary.edge_reasons.get(reason, 0):,}")
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.edges.setItem(row, 0, QTableWidgetItem(_REASON_TITLES.get(reason, reason)))
            self.edges.setItem(row, 1, count)
            self.edges.setItem(row, 2, QTableWidgetItem(EDGE_RULES[reason]))
        self._fit_edges()
