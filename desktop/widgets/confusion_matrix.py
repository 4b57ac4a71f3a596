"""A confusion matrix as a table: reference labels down, predicted labels across, each cell
shaded by its share of the reference row (so rare classes read as clearly as common ones).

A table rather than a painted picture: it is keyboard-navigable, screen readers read its
cells, and every cell has a tooltip in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

_LOW = QColor("#ffffff")
_HIGH = QColor("#2f6db5")
_DARK_TEXT_BELOW = 0.6  # above this share the cell is dark enough for white text


def shade(share: float) -> QColor:
    """The cell colour for a row share in 0..1: white to the report's blue."""
    share = min(max(share, 0.0), 1.0)
    return QColor(
        round(_LOW.red() + (_HIGH.red() - _LOW.red()) * share),
        round(_LOW.green() + (_HIGH.green() - _LOW.green()) * share),
        round(_LOW.blue() + (_HIGH.blue() - _LOW.blue()) * share),
    )


class ConfusionMatrixView(QWidget):
    """Counts of (reference, predicted) pairs with a caption that says how to read them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setObjectName("chartCaption")
        self.table = QTableWidget(self)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAccessibleName("Confusion matrix")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(160)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        self.set_matrix((), ())

    def set_matrix(
        self, labels: Sequence[str], counts: Sequence[Sequence[int]], *, title: str = ""
    ) -> None:
        """Show ``counts[i][j]``: rows of reference label i the model predicted as j."""
        n = len(labels)
        self.table.clear()
        self.table.setRowCount(n)
        self.table.setColumnCount(n)
        if not n:
            self.caption.setText("No confusion matrix: the task has no label set.")
            return
        self.table.setHorizontalHeaderLabels([f"predicted {label}" for label in labels])
        self.table.setVerticalHeaderLabels([f"reference {label}" for label in labels])
        for i, row in enumerate(counts):
            total = sum(row)
            for j, count in enumerate(row):
                self.table.setItem(i, j, self._cell(labels[i], labels[j], count, total))
        shown = sum(sum(row) for row in counts)
        self.caption.setText(
            (f"{title}: " if title else "")
            + f"{shown:,} rows. Rows are the reference label, columns what the student "
            "predicted; the diagonal is right. A darker cell holds a larger share of its row."
        )

    @staticmethod
    def _cell(reference: str, predicted: str, count: int, total: int) -> QTableWidgetItem:
        share = count / total if total else 0.0
        item = QTableWidgetItem(f"{count:,}")
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        item.setBackground(QBrush(shade(share)))
        text = QColor("#ffffff") if share > _DARK_TEXT_BELOW else QColor("#1d2330")
        item.setForeground(QBrush(text))
        verb = "correctly predicted" if reference == predicted else f"predicted as {predicted}"
        item.setToolTip(f"{count:,} of {total:,} '{reference}' rows ({share:.0%}) {verb}")
        return item

    def counts(self) -> list[list[int]]:
        """The shown counts (tests, accessibility)."""
        return [
            [
                int(self.table.item(i, j).text().replace(",", ""))
                for j in range(self.table.columnCount())
            ]
            for i in range(self.table.rowCount())
        ]
