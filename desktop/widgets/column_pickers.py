"""The data page's column choices: which column is the text, the label, the edge-case flag,
plus the dataset's name and the text limit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from core.data.importer import ImportConfig

NO_COLUMN = "(none)"
_MAX_CHARS = next(f.default for f in dataclasses.fields(ImportConfig) if f.name == "max_chars")
_TEXT_NAMES = ("text", "message", "body", "content", "note", "notes", "input", "description")
_LABEL_NAMES = ("label", "labels", "category", "class", "target", "intent", "output")


class ColumnPickers(QGroupBox):
    """Text, label and flag column pickers; ``roles_changed`` when one of them changes."""

    roles_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Columns", parent)
        self.text_column = QComboBox(self)
        self.text_column.setToolTip("The column holding the input text the student will read.")
        self.label_column = QComboBox(self)
        self.label_column.setToolTip(
            "The column holding a human label (optional). With labels, the split keeps each "
            "label's share the same in train, validation and test, and the teacher's own "
            "accuracy can be measured."
        )
        self.flag_column = QComboBox(self)
        self.flag_column.setToolTip(
            "Optional: a column whose rows marked 1, true, yes, y or x always go to the "
            "edge-case set (cases you know are hard)."
        )
        for combo in (self.text_column, self.label_column, self.flag_column):
            combo.currentIndexChanged.connect(self.roles_changed)
        self.dataset_name = QLineEdit(self)
        self.dataset_name.setToolTip("A name for this dataset (default: the file name).")
        self.max_chars = QSpinBox(self)
        self.max_chars.setRange(1, 10_000_000)
        self.max_chars.setValue(_MAX_CHARS)
        self.max_chars.setSuffix(" characters")
        self.max_chars.setGroupSeparatorShown(True)
        self.max_chars.setToolTip(
            "The longest text accepted. A longer one stops the import (it is usually a "
            "broken row), unless the box below is ticked."
        )
        self.skip_oversize = QCheckBox("S&kip longer texts instead of stopping", self)
        self.skip_oversize.setToolTip(
            "Drop and count rows longer than the text limit instead of stopping the import."
        )
        self.label_title = QLabel("&Label column:", self)
        form = QFormLayout(self)
        rows: list[tuple[str | QLabel, QWidget]] = [
            ("Te&xt column:", self.text_column),
            (self.label_title, self.label_column),
            ("Fla&g column:", self.flag_column),
            ("Dataset na&me:", self.dataset_name),
            ("&Text limit:", self.max_chars),
        ]
        for title, widget in rows:
            label = title if isinstance(title, QLabel) else QLabel(title, self)
            label.setBuddy(widget)
            label.setToolTip(widget.toolTip())
            form.addRow(label, widget)
        form.addRow("", self.skip_oversize)

    def fill(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Offer ``columns``, with a first guess from their names and the preview ``rows``."""
        lowered = {c.lower(): c for c in columns}
        text = next((lowered[n] for n in _TEXT_NAMES if n in lowered), None)
        text = text or _longest_column(columns, rows)
        label = next((lowered[n] for n in _LABEL_NAMES if n in lowered), None)
        for combo, optional, chosen in (
            (self.text_column, False, text),
            (self.label_column, True, label),
            (self.flag_column, True, None),
        ):
            combo.blockSignals(True)
            combo.clear()
            if optional:
                combo.addItem(NO_COLUMN, None)
            for column in columns:
                combo.addItem(column, column)
            index = combo.findData(chosen) if chosen is not None else 0
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
        self.roles_changed.emit()

    def roles(self) -> dict[str, str | None]:
        """Role (``text``, ``label``, ``flag``) to the chosen column, or None."""
        return {
            "text": self.text_column.currentData(),
            "label": self.label_column.currentData(),
            "flag": self.flag_column.currentData(),
        }

    def set_generation(self, generation: bool) -> None:
        """In a generation project the "label" is the reference output."""
        self.label_title.setText("Reference o&utput column:" if generation else "&Label column:")


def _longest_column(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str | None:
    """A first guess at the text column: the one with the longest cells on screen."""
    if not columns or not rows:
        return None
    lengths = [sum(len(r[i]) for r in rows if i < len(r)) for i in range(len(columns))]
    return columns[lengths.index(max(lengths))]
