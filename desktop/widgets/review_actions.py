"""The review queue's actions (issue 20): a reason filter above the list and, under the
record, buttons that act on it. The widget only emits what was asked; the page calls
``core.anonymize.review_actions`` and re-reads the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from core.anonymize.explain import ENTITY_DESCRIPTIONS

ALL_REASONS = ""


class ReasonFilter(QComboBox):
    """ "All reasons" or one review reason, with how many records carry it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewReasonFilter")
        self.setToolTip("Show only the records flagged for this reason.")
        self.setAccessibleName("filter the review queue by reason")
        self.set_reasons({})

    def set_reasons(self, counts: dict[str, int]) -> None:
        """Offer the reasons in ``counts`` (records per reason), keeping the current one."""
        current = self.reason()
        self.blockSignals(True)
        self.clear()
        self.addItem("All reasons", ALL_REASONS)
        for reason, count in sorted(counts.items()):
            if reason != "reviewed":
                self.addItem(f"{reason.replace('_', ' ')} ({count:,})", reason)
        index = self.findData(current)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)

    def reason(self) -> str:
        """The chosen reason, ``""`` for all."""
        return str(self.currentData() or ALL_REASONS)


class ReviewActionBar(QWidget):
    """Mark reviewed; undo the replacement at the cursor; replace the selection; add the
    selection to the allow- or deny-list. Emits, the page acts."""

    reviewed = Signal()
    remove_requested = Signal()
    add_requested = Signal(str)  # entity type
    term_requested = Signal(bool, str)  # allow?, entity type for a deny-list

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entity = QComboBox(self)
        self.entity.setObjectName("reviewEntity")
        self.entity.addItems(_entities(ENTITY_DESCRIPTIONS))
        self.entity.setCurrentText("PERSON")
        self.entity.setToolTip("The entity type for a replacement or a deny-list entry.")
        self.entity.setAccessibleName("entity type for the selection")
        self.mark = self._button(
            "Mar&k reviewed", "reviewMark", "Take this record off the queue: it is fine as it is."
        )
        self.undo = self._button(
            "Undo replace&ment", "reviewUndo",
            "Put the original words back for the replacement at the cursor (it was not an "
            "identifier). The record is anonymized again; the change is audited.",
        )  # fmt: skip
        self.replace = self._button(
            "Replace &selection", "reviewReplace",
            "Replace the selected words as the chosen entity type. The record is anonymized "
            "again; the change is audited.",
        )  # fmt: skip
        self.allow = self._button(
            "Never replace", "reviewAllow",
            "Add the selected words to the project's allow-list: they are never replaced. "
            "Run anonymization again to apply it to every record.",
        )  # fmt: skip
        self.deny = self._button(
            "Always replace", "reviewDeny",
            "Add the selected words to the project's deny-list for the chosen entity type: "
            "always replaced. Run anonymization again to apply it to every record.",
        )  # fmt: skip
        self.mark.clicked.connect(self.reviewed)
        self.undo.clicked.connect(self.remove_requested)
        self.replace.clicked.connect(lambda: self.add_requested.emit(self.entity.currentText()))
        self.allow.clicked.connect(lambda: self.term_requested.emit(True, ""))
        self.deny.clicked.connect(
            lambda: self.term_requested.emit(False, self.entity.currentText())
        )
        # Two columns: the review box is half the page wide at most.
        self.entity.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.entity.setMinimumContentsLength(10)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        entity_row = QHBoxLayout()
        entity_row.addWidget(QLabel("Selection as", self))
        entity_row.addWidget(self.entity, 1)
        grid.addWidget(self.mark, 0, 0)
        grid.addWidget(self.undo, 0, 1)
        grid.addLayout(entity_row, 1, 0)
        grid.addWidget(self.replace, 1, 1)
        grid.addWidget(self.allow, 2, 0)
        grid.addWidget(self.deny, 2, 1)

    def _button(self, text: str, name: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setToolTip(tip)
        return button


def _entities(descriptions: Iterable[str]) -> list[str]:
    return sorted(descriptions)
