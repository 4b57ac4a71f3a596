"""``stillroom gui``: the child process it starts, and its errors (no window is opened)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.cli import main
from core.commands import gui_commands
from core.errors import UserError


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["gui", "--help"])
    assert exit_info.value.code == 0
    assert "QT_QPA_PLATFORM=offscreen" in capsys.readouterr().out


def test_the_command_line_unfrozen_and_frozen(monkeypatch, tmp_path):
    assert gui_commands.gui_command_line(tmp_path) == [
        sys.executable, "-m", "desktop.app", str(tmp_path),
    ]  # fmt: skip
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert gui_commands.gui_command_line(None) == [sys.executable, "gui"]


def test_no_display_is_a_user_error():
    with pytest.raises(UserError) as caught:
        gui_commands.check_can_open_window({"PATH": "/usr/bin"})
    if sys.platform.startswith("linux"):
        assert "QT_QPA_PLATFORM=offscreen" in caught.value.hint
    gui_commands.check_can_open_window({"QT_QPA_PLATFORM": "offscreen"})
    gui_commands.check_can_open_window({"DISPLAY": ":0"})


def test_missing_qt_is_a_user_error(monkeypatch):
    monkeypatch.setattr(gui_commands.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="PySide6"):
        gui_commands.check_can_open_window({"DISPLAY": ":0"})


def test_a_folder_that_is_not_a_project_exits_2(tmp_path, capsys):
    assert main(["gui", str(tmp_path)]) == 2
    assert "not a Stillroom project" in capsys.readouterr().err


def test_it_starts_the_window_process_and_returns_its_code(monkeypatch, project):
    started = []

    def fake_run(command, check):
        started.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(gui_commands.subprocess, "run", fake_run)
    assert main(["gui", str(project.path)]) == 0
    assert started == [[sys.executable, "-m", "desktop.app", str(project.path)]]
