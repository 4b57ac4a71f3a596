"""Small constructors for the settings widgets the pages share: every setting has a tooltip."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QWidget


def checkbox(text: str, checked: bool, tip: str, parent: QWidget) -> QCheckBox:
    """A check box with its initial state and its plain-language tooltip."""
    box = QCheckBox(text, parent)
    box.setChecked(checked)
    box.setToolTip(tip)
    return box
