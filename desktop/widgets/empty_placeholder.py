"""A sentence inside an empty table or list that says what will appear there and how.

An empty table is a box of nothing; the sentence turns it into the next step ("Press Verify
bundle to…"). It sits on the view's viewport, shows only while the model has no rows, and
lets clicks through.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel

_INSET = 8
_NO_LIMIT = 16_777_215  # QWIDGETSIZE_MAX


class EmptyPlaceholder(QLabel):
    """The placeholder of one item view; create it once, after the view's model is set.

    With ``empty_height`` the view also shrinks to that height while empty (a tall empty
    box pushes what matters down the page) and gets its minimum height back with rows.
    """

    def __init__(
        self, view: QAbstractItemView, text: str, *, empty_height: int | None = None
    ) -> None:
        super().__init__(text, view.viewport())
        self._view = view
        self._empty_height = empty_height
        self._full_minimum = view.minimumHeight()
        self.setObjectName("emptyPlaceholder")
        self.setProperty("role", "explanation")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        view.viewport().installEventFilter(self)
        model = view.model()
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset,
                       model.layoutChanged):  # fmt: skip
            signal.connect(self.update_shown)
        self._place()
        self.update_shown()

    def update_shown(self) -> None:
        """Show the sentence exactly while the view has no rows."""
        empty = self._view.model().rowCount() == 0
        self.setVisible(empty)
        if self._empty_height is None:
            return
        if empty:
            self._view.setFixedHeight(self._empty_height)
        else:
            self._view.setMinimumHeight(self._full_minimum)
            self._view.setMaximumHeight(_NO_LIMIT)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        area = self._view.viewport().rect().adjusted(_INSET, 0, -_INSET, 0)
        self.setGeometry(area)
