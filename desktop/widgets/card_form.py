"""What only people know for the model card: who owns the model, what it is for, and what
each label means (``ExportConfig.owner``, ``intended_use``, ``label_definitions``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLineEdit, QPlainTextEdit, QWidget

from core.export.config import parse_label_definitions


class ModelCardForm(QGroupBox):
    """Owner, intended use and label definitions; empty fields take the card's defaults."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Model card", parent)
        form = QFormLayout(self)
        self.owner = QLineEdit(self)
        self.owner.setPlaceholderText("Who owns the model (default: your user name)")
        self.owner.setToolTip("The model card's owner, for the model-risk reviewer.")
        self.intended_use = QLineEdit(self)
        self.intended_use.setPlaceholderText("What the model is for (default: from the labels)")
        self.intended_use.setToolTip("The model card's intended use, in your words.")
        self.definitions = QPlainTextEdit(self)
        self.definitions.setPlaceholderText("One label a line: complaint: the customer is …")
        self.definitions.setToolTip("What each label means, one 'label: definition' a line.")
        self.definitions.setMaximumHeight(90)
        form.addRow("&Owner:", self.owner)
        form.addRow("&Intended use:", self.intended_use)
        form.addRow("&Label definitions:", self.definitions)

    def values(self) -> dict[str, Any]:
        """The ``ExportConfig`` fields this form sets (only those filled in).

        Raises:
            ExportError: a definition line names no label.
        """
        values: dict[str, Any] = {
            "label_definitions": parse_label_definitions(
                self.definitions.toPlainText().splitlines()
            )
        }
        for name, edit in (("owner", self.owner), ("intended_use", self.intended_use)):
            if edit.text().strip():
                values[name] = edit.text().strip()
        return values
