"""Small helpers the result panels share: read-only tables, number cells, dates."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

DASH = "—"


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a cell; a dash when it was not measured."""
    return DASH if value is None else f"{value:,.{digits}f}"


def when(stamp: str | None) -> str:
    """A stored UTC ISO time as the user's local date and time (``27 Nov 2026, 14:05``)."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%d %b %Y, %H:%M")
    except ValueError:
        return stamp


def read_only_table(headers: Sequence[str], name: str) -> QTableWidget:
    """A table the user can select and copy from but not edit, its columns spread over its
    width (see :class:`ColumnSpreader`)."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.setAccessibleName(name)
    ColumnSpreader(table)
    return table


class ColumnSpreader(QObject):
    """Keeps a table's columns as wide as their contents plus an equal share of the spare
    width. Contents-sized columns alone leave a bare strip at the right of the header;
    stretched ones cut long headers short on a narrow window."""

    def __init__(self, table: QTableWidget) -> None:
        super().__init__(table)
        self._table = table
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.spread()
        return False

    def spread(self) -> None:
        table = self._table
        table.resizeColumnsToContents()
        widths = [table.columnWidth(column) for column in range(table.columnCount())]
        spare = table.viewport().width() - sum(widths)
        if not widths or spare <= 0:
            return
        share, rest = divmod(spare, len(widths))
        for column, width in enumerate(widths):
            table.setColumnWidth(column, width + share + (1 if column < rest else 0))


def fill_table(
    table: QTableWidget, rows: Sequence[Sequence[str]], *, text_columns: Collection[int] = (0,)
) -> None:
    """Replace the table's rows: text columns left-aligned, numbers right-aligned."""
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            item = QTableWidgetItem(text)
            if j not in text_columns:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(i, j, item)
    spreader = table.findChild(ColumnSpreader)
    if spreader is not None:
        spreader.spread()


def fit_height(table: QTableWidget, most_rows: int = 12) -> None:
    """Make the table as tall as its rows (up to ``most_rows``), so no empty band remains."""
    shown = min(max(table.rowCount(), 1), most_rows)
    rows = sum(table.rowHeight(i) for i in range(min(shown, table.rowCount())))
    rows = rows or table.verticalHeader().defaultSectionSize()
    height = table.horizontalHeader().height() + rows + 2 * table.frameWidth() + 2
    table.setFixedHeight(height)
