"""Where the shipped icons and stylesheet are, in a checkout and in the frozen app."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    """The ``resources/`` folder: next to the packages, or inside the PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def icon(name: str) -> QIcon:
    """An SVG icon from ``resources/icons`` (crisp at any scale); empty if it is missing."""
    path = icon_path(name)
    return QIcon(str(path)) if path.is_file() else QIcon()


def stylesheet() -> str:
    """The application stylesheet, or an empty one if the file is missing.

    ``@ICONS@`` in the file stands for the icons folder: Qt resolves ``url()`` against the
    working directory, not the stylesheet's folder.
    """
    path = resources_dir() / "style" / "stillroom.qss"
    if not path.is_file():
        return ""
    icons = (resources_dir() / "icons").as_posix()
    return path.read_text(encoding="utf-8").replace("@ICONS@", icons)
