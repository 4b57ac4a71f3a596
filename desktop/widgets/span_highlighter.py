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
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QTextEdit, QWidget

# Calm pastels a dozen hues apart (HSL lightness 84%, saturation 55%): told apart at a
# glance, never loud, and dark text on each keeps a contrast of at least 9.9:1 (WCAG AAA).
_PALETTE = (
    "#edd6c0",  # sand
    "#c0edc0",  # green
    "#c0e5ed",  # soft teal
    "#d2c0ed",  # lavender
    "#edc0d6",  # pink
    "#ede9c0",  # straw
    "#c0d2ed",  # blue
    "#edc0c0",  # rose
    "#d6edc0",  # lime
    "#c0edda",  # mint
    "#c0c0ed",  # periwinkle
    "#e9c0ed",  # lilac
)
# The commonest types get fixed colours so that screenshots and habits stay stable, and
# so that types often seen together (a name, a place, an ID) never get neighbouring hues.
_FIXED = {
    "PERSON": 0,
    "LOCATION": 1,
    "DATE_TIME": 2,
    "PHONE_NUMBER": 3,
    "EMAIL_ADDRESS": 4,
    "OTHER_ID": 5,
    "MEDICAL_RECORD_NUMBER": 6,
    "US_SSN": 7,
    "STREET_ADDRESS": 8,
    "ACCOUNT_NUMBER": 10,
    "AGE": 11,
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


def entity_swatch(entity: str, size: int = 12) -> QIcon:
    """A small square of the entity type's colour with a thin outline, for a table cell:
    filling the whole cell would paint a column of colour blocks."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setPen(QColor("#8a96a3"))
    painter.setBrush(entity_colour(entity))
    painter.drawRoundedRect(0, 0, size - 1, size - 1, 2, 2)
    painter.end()
    return QIcon(pixmap)


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
        self.set_entities((), records_shown=False)

    def set_entities(self, entities: Iterable[str], *, records_shown: bool = True) -> None:
        """Show one chip per entity type (``records_shown``: records are on screen, so no
        chip means none of them had an identifier)."""
        self._entities = list(entities)
        if not self._entities:
            self.setText(
                "No identifiers in these records." if records_shown else "Nothing anonymized yet."
            )
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
