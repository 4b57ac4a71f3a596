"""The desktop application: ``python -m desktop.app [PROJECT_DIR]`` or ``stillroom gui [DIR]``.

Only Qt and the light core modules load before the window shows; torch, transformers and
Presidio load in the worker process, or on a background thread for the device label.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

APP_NAME = "Stillroom"
ORGANIZATION = "Stillroom"
DEVICE_PROBE_DELAY_MS = 300  # let the first paint finish before torch starts loading


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window (on ``argv[0]``'s project if given) and run until it closes."""
    # Everything the app writes is owner-only (DESIGN §3); worker processes inherit it.
    os.umask(0o077)
    args = list(sys.argv[1:] if argv is None else argv)
    from core import netguard

    netguard.install()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.resources import icon, stylesheet

    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setWindowIcon(icon("stillroom"))
    app.setStyleSheet(stylesheet())
    window = open_window([a for a in args if not a.startswith("-")])
    QTimer.singleShot(DEVICE_PROBE_DELAY_MS, window.context.probe_device)
    return int(app.exec())


def open_window(args: Sequence[str]) -> MainWindow:
    """Create and show the main window, opening the project named in ``args`` if any."""
    from desktop.main_window import MainWindow

    window = MainWindow()
    if args:
        window.open_project(Path(args[0]))
    window.show()
    return window


if __name__ == "__main__":
    sys.exit(main())
