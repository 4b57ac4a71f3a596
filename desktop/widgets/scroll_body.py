"""A scrolling body for a tall page: the heading, banner and job panel stay in view above it."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def scrolling_body(page: QWidget, outer: QVBoxLayout) -> tuple[QScrollArea, QVBoxLayout]:
    """Add a scroll area to ``outer`` and return it with its content's layout.

    On a small screen the page scrolls, while what says a job runs or went wrong (above
    it, in ``outer``) stays visible.
    """
    scroll = QScrollArea(page)
    scroll.setObjectName("pageScroll")
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    content = QWidget(scroll)
    content.setObjectName("pageContent")
    layout = QVBoxLayout(content)
    layout.setContentsMargins(0, 0, 8, 0)
    layout.setSpacing(12)
    scroll.setWidget(content)
    outer.addWidget(scroll, 1)
    return scroll, layout
