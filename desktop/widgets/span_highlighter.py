"""Anonymized text with its replaced spans highlighted, one colour per entity type.

Only ever fed the *anonymized* text and span offsets into it (``core.anonymize.review``):
the original values are not available to this widget, so it cannot show them.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QTextEdit, QWidget

# Light, distinguishable backgrounds that keep black text readable (WCAG AA on each).
_PALETTE = (
    "#ffd6a5",
    "#caffbf",
    "#9bf6ff",
    "#bdb2ff",
    "#ffc6ff",
    "#fdffb6",
    "#a0c4ff",
    "#ffadad",
    "#d0f4de",
    "#e4c1f9",
    "#fcd5ce",
    "#b9fbc0",
)
# The commonest types get fixed colours so that screenshots and habits stay stable.
_FIXED = {
    "PERSON": 0,
    "LOCATION": 1,
    "DATE_TIME": 2,
    "PHONE_NUMBER": 3,
    "EMAIL_ADDRESS": 4,
    "STREET_ADDRESS": 5,
    "MEDICAL_RECORD_NUMBER": 6,
    "US_SSN": 7,
}


class SpannedRecord(Protocol):
    """What the view needs of a record: ``core.anonymize.review.ReviewItem`` fits."""

    record_id: int
    text: str
    spans: Sequence[Mapping[str, Any]]


def entity_colour(entity: str) -> QColor:
    """The highlight colour of an entity type: fixed for common ones, stable for the rest."""
    index = _FIXED.get(entity)
    if index is None:
        index = hashlib.sha256(entity.encode()).digest()[0] % len(_PALETTE)
    return QColor(_PALETTE[index])


class SpanTextView(QTextEdit):
    """A read-only view of anonymized records, each replaced span on its type's colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setTabChangesFocus(True)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self._entities: list[str] = []

    def show_records(self, records: Iterable[SpannedRecord], *, headers: bool = True) -> None:
        """Replace the content with ``records``, each optionally under a "Record #id" line."""
        self.clear()
        self._entities = []
        cursor = QTextCursor(self.document())
        plain, header = QTextCharFormat(), QTextCharFormat()
        header.setFontWeight(QFont.Weight.Bold)
        for index, record in enumerate(records):
            if index:
                cursor.insertText("\n\n", plain)
            if headers:
                cursor.insertText(f"Record #{record.record_id}\n", header)
            self._insert_record(cursor, record, plain)
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def entities_shown(self) -> list[str]:
        """The entity types highlighted in the current content, in order of appearance."""
        return list(self._entities)

    def _insert_record(
        self, cursor: QTextCursor, record: SpannedRecord, plain: QTextCharFormat
    ) -> None:
        text, position = record.text, 0
        for span in sorted(record.spans, key=lambda s: int(s["start"])):
            start, end = int(span["start"]), int(span["end"])
            if start < position or end > len(text):
                continue  # overlapping or out of range: shown as plain text, never guessed
            entity = str(span.get("entity_type", ""))
            cursor.insertText(text[position:start], plain)
            cursor.insertText(text[start:end], self._span_format(entity, span))
            position = end
            if entity not in self._entities:
                self._entities.append(entity)
        cursor.insertText(text[position:], plain)

    @staticmethod
    def _span_format(entity: str, span: Mapping[str, Any]) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setBackground(entity_colour(entity))
        fmt.setForeground(QColor("#1a1a1a"))
        operator = span.get("operator", "")
        fmt.setToolTip(f"{entity} ({operator})" if operator else entity)
        return fmt


class EntityLegend(QLabel):
    """Colour chips naming the entity types, matching :func:`entity_colour`.

    One word-wrapped rich-text line rather than a row of widgets: with many types a row
    would be wider than the page and push the whole results column off screen.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("entityLegend")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self._entities: list[str] = []
        self.set_entities(())

    def set_entities(self, entities: Iterable[str]) -> None:
        """Show one chip per entity type."""
        self._entities = list(entities)
        if not self._entities:
            self.setText("No identifiers in these records.")
            self.setToolTip("")
            return
        chips = (
            f'<span style="background-color:{entity_colour(entity).name()}; color:#1a1a1a;">'
            f"&nbsp;{html.escape(entity)}&nbsp;</span>"
            for entity in self._entities
        )
        self.setText(" &nbsp; ".join(chips))
        self.setToolTip("Replaced spans of each type are highlighted in the colour shown here")

    def entities(self) -> list[str]:
        return list(self._entities)
