"""A scrolling body for a tall page: the heading, banner and job panel stay in view above it."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def scrolling_body(page: QWidget, outer: QVBoxLayout) -> tuple[QScrollArea, QVBoxLayout]:
    """Add a scroll area to ``outer`` and return it with its content's layout.

    On a small screen the page scrolls, while what says a job runs or went wrong (above
    it, in ``outer``) stays visible.
    """
    content = QWidget(page)
    layout = QVBoxLayout(content)
    layout.setContentsMargins(0, 0, 8, 0)
    layout.setSpacing(12)
    return scroll_around(page, outer, content), layout


def scroll_around(page: QWidget, outer: QVBoxLayout, content: QWidget) -> QScrollArea:
    """Put an already built ``content`` widget in the page's scroll area, added to ``outer``."""
    scroll = QScrollArea(page)
    scroll.setObjectName("pageScroll")
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    content.setObjectName(content.objectName() or "pageContent")
    scroll.setWidget(content)
    outer.addWidget(scroll, 1)
    return scroll
