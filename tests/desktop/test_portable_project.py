"""A project copied to another folder, with the original gone, opens in the window and every
page shows the copy's own files (DESIGN §3)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from window_walk import window_texts

from desktop.main_window import STAGES, MainWindow

FIXTURE = Path(__file__).parents[1] / "fixtures" / "legacy-0.1.0" / "project.tar.gz"


def test_every_page_of_a_copied_project_shows_the_copys_files(qtbot, app_context, tmp_path):
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(tmp_path / "first", filter="data")
    copy = tmp_path / "moved" / "triage"
    shutil.copytree(tmp_path / "first" / "legacy-project", copy)
    shutil.rmtree(tmp_path / "first")
    app_context.open_project(copy)
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    window.show()
    opened = [key for key, _ in STAGES if window.show_stage(key)]
    shown = "\n".join(window_texts(window))

    assert opened == [key for key, _ in STAGES]  # nothing is locked: every stage has run
    assert str(tmp_path / "first") not in shown
    assert "/tmp/legacy/legacy-project" not in shown
    assert "no longer at this path" not in shown
    assert str(copy / "exports" / "bundle") in shown  # the export page's bundle is the copy's
    assert window.states["export"] == "done"
