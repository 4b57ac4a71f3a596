"""``stillroom --self-test``: the core checks plus the window, opened and closed offscreen.

    stillroom --self-test [--json]          (the packaged app)
    python -m desktop.self_test [--json]    (an installed or checked-out Stillroom)

The window is drawn offscreen unless ``QT_QPA_PLATFORM`` says otherwise, so the check runs
on a server without a display and never flashes a window on a desktop.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from core import self_test


def check_window() -> str:
    """Create the application and the main window, show it, process events, close it.

    The window gets settings in a scratch file, so the check leaves the user's recent
    projects and window state alone.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["stillroom", "--self-test"])
    from desktop.context import AppContext
    from desktop.main_window import MainWindow

    with tempfile.TemporaryDirectory(prefix="stillroom-selftest-") as scratch:
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(AppContext(settings))
        window.show()
        app.processEvents()
        shown = window.isVisible()
        window.close()
        app.processEvents()
        settings.sync()
    if not shown:
        raise self_test.SelfTestFailure("the main window did not show")
    return f"{type(window).__name__} opened and closed (Qt platform {app.platformName()})"


def check_resources() -> str:
    """The stylesheet and the icons the window uses are where the app looks for them.

    The window silently falls back to no style and blank icons, so only this check
    notices a build that left ``resources/`` out.
    """
    from desktop.resources import resources_dir, stylesheet

    icons = sorted((resources_dir() / "icons").glob("*.svg"))
    if not stylesheet().strip():
        raise self_test.SelfTestFailure(f"no stylesheet under {resources_dir()}")
    if not icons:
        raise self_test.SelfTestFailure(f"no icons under {resources_dir() / 'icons'}")
    return f"stylesheet and {len(icons)} icons in {resources_dir()}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the core checks and the window check; exit code 0 when every check passed."""
    from core import netguard

    netguard.install()
    args = self_test.parse_args(argv, "stillroom --self-test")
    checks = [
        *self_test.core_checks(),
        ("window resources", check_resources),
        ("main window", check_window),
    ]
    return self_test.report(self_test.run_checks(checks), args.json)


if __name__ == "__main__":
    sys.exit(main())
