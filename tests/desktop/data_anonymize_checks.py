"""Accessibility checks shared by the data and anonymize page tests (a unique module name)."""

from __future__ import annotations

import re
from collections import Counter

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

SETTINGS = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit)
FOUNDATION = ("inlineBanner", "jobPanel")
_MNEMONIC = re.compile(r"&([^&\s])")


def settings_without_tooltip(root: QWidget) -> list[str]:
    """Controls a user can change (or press) that have no tooltip; the banner's and job
    panel's own are the foundation's concern and are left out."""
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, SETTINGS) or widget.toolTip():
            continue
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus or _inside(widget, FOUNDATION):
            continue
        if isinstance(widget.parent(), QAbstractSpinBox | QComboBox):
            continue  # the line edit inside a spin box or combo box
        name = widget.text() if isinstance(widget, QAbstractButton | QLineEdit) else ""
        missing.append(f"{type(widget).__name__} {widget.objectName() or name!r}")
    return missing


def duplicate_mnemonics(root: QWidget) -> list[str]:
    """Alt+letter keys used by more than one visible label or button on ``root``."""
    keys: Counter[str] = Counter()
    for widget in root.findChildren(QWidget):
        if isinstance(widget, QLabel | QAbstractButton) and not widget.isHidden():
            match = _MNEMONIC.search(widget.text())
            if match:
                keys[match.group(1).lower()] += 1
    return sorted(key for key, n in keys.items() if n > 1)


def _inside(widget: QWidget, object_names: tuple[str, ...]) -> bool:
    parent = widget.parent()
    while parent is not None:
        if parent.objectName() in object_names:
            return True
        parent = parent.parent()
    return False
