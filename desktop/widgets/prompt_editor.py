"""The teacher's prompt template editor, and the table that shows a 5-record dry run.

The template's fields are the core's (``core.teacher.prompts.FIELDS``); a button per field
inserts it at the cursor. The dry-run table shows anonymized text only: the teacher never
sees anything else, and neither does this screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets.empty_placeholder import EmptyPlaceholder

FIELD_TIPS = {
    "text": "The record's anonymized text (required)",
    "choices": "The categories as the answer options, by letter or by name (required for "
    "classification)",
    "labels": "The category names, separated by commas",
    "answer_kind": "'letter' or 'name': how the model is asked to answer",
    "answers": "The allowed answers (A, B, C… or the category names)",
}


class PromptEditor(QWidget):
    """A plain-text template editor with field buttons and a way back to the built-in one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._builtin = ""
        fields = QHBoxLayout()
        fields.addWidget(QLabel("Insert a field:", self))
        for name, tip in FIELD_TIPS.items():
            button = QToolButton(self)
            button.setText(f"{{{name}}}")
            button.setToolTip(tip)
            button.setAccessibleName(f"Insert the {name} field")
            button.clicked.connect(lambda _=False, name=name: self.insert_field(name))
            fields.addWidget(button)
        fields.addStretch(1)
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("promptEditor")
        self.editor.setAccessibleName("Prompt template")
        self.editor.setToolTip(
            "What the teacher model is asked for each record. Editing it starts a new prompt "
            "version: answers to the old one are kept apart, never mixed."
        )
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setTabChangesFocus(True)  # keyboard users can leave the editor
        self.editor.setMinimumHeight(110)
        self.restore_button = QPushButton("Use the built-in prompt", self)
        self.restore_button.setToolTip("Replace the text above with Stillroom's own prompt")
        self.restore_button.clicked.connect(lambda: self.editor.setPlainText(self._builtin))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(fields)
        layout.addWidget(self.editor)
        layout.addWidget(self.restore_button, 0, Qt.AlignmentFlag.AlignLeft)

    def set_builtin(self, text: str) -> None:
        """The task's built-in template; shown unless the user has edited the text."""
        unchanged = not self.is_edited()
        self._builtin = text
        if unchanged or not self.text().strip():
            self.editor.setPlainText(text)

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)

    def is_edited(self) -> bool:
        return self.text().rstrip("\n") != self._builtin.rstrip("\n")

    def insert_field(self, name: str) -> None:
        self.editor.insertPlainText(f"{{{name}}}")
        self.editor.setFocus()


class DryRunTable(QTableWidget):
    """The dry run's rows: record, split, anonymized text (prompt as tooltip), answer."""

    HEADERS = ("Record", "Split", "Anonymized text", "Teacher's answer", "Probabilities")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setObjectName("dryRunTable")
        self.setAccessibleName("Dry run results")
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.setMinimumHeight(150)
        self.placeholder = EmptyPlaceholder(
            self,
            "Press Dry run on 5 records to see what the teacher answers for the first five "
            "anonymized records. Nothing is stored.",
            empty_height=96,
        )

    def set_rows(self, rows: Sequence[Any], labels: Sequence[str]) -> None:
        """Show ``core.teacher.preview.PreviewRow`` s; ``labels`` name the probabilities."""
        self.setRowCount(len(rows))
        for index, row in enumerate(rows):
            text = QTableWidgetItem(row.text)
            if row.prompt:
                text.setToolTip(f"The exact prompt sent:\n\n{row.prompt}")
            cells = [QTableWidgetItem(f"#{row.record_id}"), QTableWidgetItem(row.split), text,
                     QTableWidgetItem(_answer(row)),
                     QTableWidgetItem(_probabilities(row.probabilities, labels))]  # fmt: skip
            for column, cell in enumerate(cells):
                self.setItem(index, column, cell)
        self.resizeRowsToContents()


def _answer(row: Any) -> str:
    if row.valid:
        return str(row.label) if row.label is not None else str(row.answer or "")
    flag = getattr(row, "flag", None)
    if flag not in (None, "outside_label_set"):
        return f"invalid: {str(flag).replace('_', ' ')}"  # numbers that are no distribution
    if row.answer is None:
        return "no answer"
    return f"outside the label set (answered {row.answer!r})"


def _probabilities(values: Sequence[float] | None, labels: Sequence[str]) -> str:
    if not values:
        return ""
    names = list(labels) if len(labels) == len(values) else [str(i) for i in range(len(values))]
    return " · ".join(f"{name} {value:.2f}" for name, value in zip(names, values, strict=True))
