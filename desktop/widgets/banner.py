"""The inline banner at the top of every page: what happened and what to do, never a modal.

Its text comes from :class:`~core.errors.UserError` messages and page code, which never
hold row contents.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from core.errors import UserError
from desktop.resources import icon

_ICONS = {"error": "banner-error", "warning": "banner-warning", "info": "banner-info"}


class InlineBanner(QFrame):
    """A dismissible message strip: error, warning or information, with an optional hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inlineBanner")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._level: str | None = None
        self._icon = QLabel(self)
        self._icon.setFixedSize(QSize(20, 20))
        self._message = QLabel(self)
        self._message.setObjectName("bannerMessage")
        self._hint = QLabel(self)
        self._hint.setObjectName("bannerHint")
        for label in (self._message, self._hint):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setObjectName("bannerClose")
        close.setText("✕")
        close.setToolTip("Dismiss this message")
        close.setAccessibleName("Dismiss message")
        close.clicked.connect(self.clear)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self._message)
        text.addWidget(self._hint)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 8, 8, 8)
        row.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(text, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    # -- showing ---------------------------------------------------------------------------

    def show_error(self, message: str, hint: str = "") -> None:
        """Something went wrong that the user can fix; ``hint`` says how."""
        self._show("error", message, hint)

    def show_warning(self, text: str, hint: str = "") -> None:
        self._show("warning", text, hint)

    def show_info(self, text: str, hint: str = "") -> None:
        self._show("info", text, hint)

    def show_user_error(self, exc: UserError) -> None:
        """A core :class:`UserError`: its message, and its hint as what to do."""
        self.show_error(exc.message, exc.hint)

    def clear(self) -> None:
        self._level = None
        self._message.clear()
        self._hint.clear()
        self.hide()

    # -- reading (tests, accessibility) ----------------------------------------------------

    def level(self) -> str | None:
        """``"error"``, ``"warning"``, ``"info"``, or None when hidden."""
        return self._level

    def message(self) -> str:
        return self._message.text()

    def hint(self) -> str:
        return self._hint.text()

    def _show(self, level: str, message: str, hint: str) -> None:
        message, hint = _sentence(message), _sentence(hint)
        self._level = level
        self.setProperty("level", level)
        self._icon.setPixmap(icon(_ICONS[level]).pixmap(QSize(20, 20)))
        self._message.setText(message)
        self._hint.setText(hint)
        self._hint.setVisible(bool(hint))
        self.setAccessibleName(f"{level}: {message}")
        self.setAccessibleDescription(hint)
        # A dynamic property only restyles after a re-polish.
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()


def _sentence(text: str) -> str:
    """Core messages are lower-case fragments (for the CLI's one line); a banner shows
    sentences: capitalised, with a full stop."""
    text = text.strip()
    if not text:
        return text
    first = text.split(maxsplit=1)[0]
    # A file or folder name keeps its case ("binary.csv is not a text file").
    if not any(mark in first for mark in "./\\_"):
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
