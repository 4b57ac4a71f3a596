"""``stillroom gui [DIR]``: open the desktop window, in its own process.

The core never imports the desktop layer (an import-linter contract), so the window starts
as a child process: the frozen app's own executable in ``gui`` mode, or ``python -m
desktop.app`` from a checkout or an installed wheel. The command waits for the window to
close and exits with its code.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.project import is_project


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    gui = sub.add_parser(
        "gui",
        parents=[common],
        help="open the desktop window (optionally on the project in DIR)",
        description="Open the Stillroom window, on the project in DIR if given, and wait "
        "until it is closed. Needs a desktop session, or QT_QPA_PLATFORM=offscreen to run "
        "without a display (tests, screenshots).",
    )
    gui.add_argument("dir", type=Path, nargs="?", metavar="DIR", help="a project folder")
    gui.set_defaults(handler=gui_command)


def gui_command_line(project_dir: Path | None) -> list[str]:
    """The command that opens the window: the frozen app itself, or this Python."""
    extra = [] if project_dir is None else [str(project_dir)]
    if getattr(sys, "frozen", False):
        return [sys.executable, "gui", *extra]
    return [sys.executable, "-m", "desktop.app", *extra]


def check_can_open_window(environ: Mapping[str, str] | None = None) -> None:
    """Raises UserError if the window cannot open here: no Qt, or no display on Linux."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    if not getattr(sys, "frozen", False) and importlib.util.find_spec("PySide6") is None:
        raise UserError(
            "the desktop window needs PySide6, which is not installed",
            "install Stillroom with its GUI dependencies (pip install 'pyside6==6.12.*'), "
            "or use the command-line stages",
        )
    on_linux = sys.platform.startswith("linux")
    has_display = any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY"))
    if on_linux and not has_display and not env.get("QT_QPA_PLATFORM"):
        raise UserError(
            "there is no display to open the window on",
            "set QT_QPA_PLATFORM=offscreen or run on a desktop",
        )


def gui_command(args: argparse.Namespace) -> dict[str, Any]:
    project_dir = None if args.dir is None else args.dir.expanduser().resolve()
    if project_dir is not None and not is_project(project_dir):
        raise UserError(
            f"{project_dir} is not a Stillroom project",
            "create one with `stillroom init`, or run `stillroom gui` without DIR",
        )
    check_can_open_window()
    command = gui_command_line(project_dir)
    code = subprocess.run(command, check=False).returncode
    lines = [] if code == 0 else [f"the window exited with code {code}"]
    return {"command": command, "exit_code": code, "lines": lines}
