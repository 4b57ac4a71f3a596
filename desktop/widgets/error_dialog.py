"""The one dialog for unexpected errors: a plain sentence, where the log is, Copy details.

Expected errors never come here (they go to the page's inline banner). The details are what
the caller passes: error class, exit code, run id, and the crash log, which the worker
writes without exception messages so that it never quotes row contents.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.resources import icon
from desktop.widgets.form_fields import wrapped_label

_LOG_TAIL_CHARS = 6000


class ErrorDialog(QDialog):
    """Shows what went wrong in one sentence, with the details folded into a text box."""

    def __init__(
        self, parent: QWidget | None, summary: str, details: str, log_path: Path | None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("Stillroom stopped on an unexpected error")
        self.setWindowIcon(icon("banner-error"))
        self.setMinimumWidth(520)
        self.summary_label = wrapped_label(summary, self, "errorSummary", plain=True)
        where = f"The log is in {log_path}" if log_path else "No log file was written."
        self.log_label = wrapped_label(where, self, plain=True)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_box = QPlainTextEdit(self)
        self.details_box.setReadOnly(True)
        self.details_box.setPlainText(compose_details(summary, details, log_path))
        self.details_box.setAccessibleName("Error details")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton("Copy details", self)
        self.copy_button.setToolTip("Copy the details to the clipboard, e.g. for your IT desk")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.log_label)
        layout.addWidget(self.details_box, 1)
        layout.addWidget(buttons)

    def details(self) -> str:
        return self.details_box.toPlainText()

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details())
        self.copy_button.setText("Copied")


def compose_details(summary: str, details: str, log_path: Path | None) -> str:
    """The text behind "Copy details": the summary, the caller's details and the log tail."""
    parts = [summary, "", details.strip()]
    if log_path is not None:
        parts += ["", f"log: {log_path}"]
        tail = _log_tail(log_path)
        if tail:
            parts += ["", tail]
    return "\n".join(parts).strip() + "\n"


def _log_tail(log_path: Path) -> str:
    # Only the worker's crash log: it holds exception classes and stack frames, never
    # messages. Its stderr capture may hold anything a library printed, so it is not read.
    if log_path.name != "worker.log" or not log_path.is_file():
        return ""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-_LOG_TAIL_CHARS:]


def show_error_dialog(
    parent: QWidget | None, summary: str, details: str, log_path: Path | None
) -> None:
    """Open the error dialog over ``parent`` without blocking (window-modal).

    The dialog deletes itself when closed; tests find it with
    ``parent.findChild(ErrorDialog)``.
    """
    dialog = ErrorDialog(parent, summary, details, log_path)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if parent is None:
        _ORPHANS.add(dialog)
        dialog.finished.connect(lambda _code: _ORPHANS.discard(dialog))
    dialog.open()


_ORPHANS: set[ErrorDialog] = set()  # a parentless dialog would be collected while shown
