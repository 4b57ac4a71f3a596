"""A tiny project through the real stages (pattern-only anonymization, the evaluate tests'
tiny classifier as a local teacher and as the student's start, evaluate, export), built
once per session and copied for each test that changes it; replayed prediction logs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "teacher"))

from monitor_helpers import build_monitor_project


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    return build_monitor_project(tmp_path_factory.mktemp("monitor-project"))


@pytest.fixture
def project_dir(built, tmp_path) -> Path:
    """A copy of the built project (tests import logs into it, or re-distil it)."""
    target = tmp_path / "mon"
    shutil.copytree(built, target)
    return target
