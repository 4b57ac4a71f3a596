"""Small constructors for the widgets the pages share: every setting has a tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QWidget


def checkbox(text: str, checked: bool, tip: str, parent: QWidget) -> QCheckBox:
    """A check box with its initial state and its plain-language tooltip."""
    box = QCheckBox(text, parent)
    box.setChecked(checked)
    box.setToolTip(tip)
    return box


def primary_button(text: str, tip: str, parent: QWidget) -> QPushButton:
    """A page's main action, styled as such by the ``primary`` property in the stylesheet."""
    button = QPushButton(text, parent)
    button.setProperty("primary", True)
    button.setToolTip(tip)
    return button


def wrapped_label(text: str, parent: QWidget, name: str = "", *, plain: bool = False) -> QLabel:
    """A label whose text wraps, named ``name`` if given; ``plain`` for text that must never
    be read as rich text (what a stage or a server said)."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    if plain:
        label.setTextFormat(Qt.TextFormat.PlainText)
    return label
