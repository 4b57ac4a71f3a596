"""Small constructors for the settings widgets the pages share: every setting has a tooltip."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QPushButton, QWidget


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
