"""Fixtures for the serve tests: one exported classification bundle per session (the export
tests' tiny student, through the real evaluate and export stages), and servers started with
the real CLI in a subprocess on loopback ports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "export"))
sys.path.insert(0, str(Path(__file__).parents[1] / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "teacher"))

from serve_helpers import build_bundle


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    """A signed classification bundle (labels neg/pos)."""
    return build_bundle(tmp_path_factory.mktemp("serve-bundle"))
