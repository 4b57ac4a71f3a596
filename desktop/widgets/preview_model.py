"""The data page's preview table: the first rows of a file, loaded a page at a time.

A view asks for rows as it scrolls (``canFetchMore`` / ``fetchMore``); the loader reads the
file's head again up to the new row count, and stops at :data:`MAX_ROWS`. So whatever the
size of the file, at most ``MAX_ROWS`` rows are ever held, and cells longer than
:data:`SHOWN_CHARS` are cut for display.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

PAGE_ROWS = 100
MAX_ROWS = 1000
SHOWN_CHARS = 300

Rows = tuple[tuple[str, ...], ...]
# Returns the first ``n`` rows of the file, or None if they cannot be read (the page says why).
RowLoader = Callable[[int], Rows | None]
_Index = QModelIndex | QPersistentModelIndex


class PreviewTableModel(QAbstractTableModel):
    """Columns and head rows of one file, with the text and label columns marked."""

    def __init__(self, parent: object | None = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._columns: tuple[str, ...] = ()
        self._rows: list[tuple[str, ...]] = []
        self._loader: RowLoader | None = None
        self._exhausted = True
        self._roles: dict[str, str] = {}

    # -- content ---------------------------------------------------------------------------

    def set_preview(
        self, columns: Sequence[str], rows: Rows, loader: RowLoader | None = None
    ) -> None:
        """Show ``rows``; ``loader`` fetches more when the view scrolls to the end."""
        self.beginResetModel()
        self._columns = tuple(columns)
        self._rows = list(rows[:MAX_ROWS])
        self._loader = loader
        self._exhausted = loader is None or len(rows) < PAGE_ROWS
        self._roles = {}
        self.endResetModel()

    def clear(self) -> None:
        self.set_preview((), ())

    def set_roles(self, roles: dict[str, str]) -> None:
        """Mark columns by role, e.g. ``{"text": "body", "label": "category"}``."""
        self._roles = {column: role for role, column in roles.items() if column}
        if self._columns:
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self._columns) - 1)

    def columns(self) -> tuple[str, ...]:
        return self._columns

    def loaded_rows(self) -> int:
        return len(self._rows)

    def cell(self, row: int, column: int) -> str:
        """The full cell text (the table shows it cut to :data:`SHOWN_CHARS`)."""
        values = self._rows[row]
        return values[column] if column < len(values) else ""

    # -- Qt model --------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 — Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = self.cell(index.row(), index.column())
            if role == Qt.ItemDataRole.ToolTipRole:
                return None if len(value) <= SHOWN_CHARS else f"{len(value):,} characters"
            return value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Vertical:
            return section + 1 if role == Qt.ItemDataRole.DisplayRole else None
        if section >= len(self._columns):
            return None
        name = self._columns[section]
        role_name = self._roles.get(name)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{name}  [{role_name}]" if role_name else name
        if role == Qt.ItemDataRole.FontRole and role_name:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"Column {name!r}" + (f", used as the {role_name}" if role_name else "")
        return None

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._exhausted or self._loader is None:
            return
        wanted = min(MAX_ROWS, len(self._rows) + PAGE_ROWS)
        rows = self._loader(wanted)
        self._exhausted = rows is None or len(rows) < wanted or wanted >= MAX_ROWS
        new = list(rows or ())[len(self._rows) : wanted]
        if not new:
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(new) - 1)
        self._rows.extend(new)
        self.endInsertRows()
