"""Desktop tests run offscreen, against real projects in tmp_path (fixtures: desktop_fixtures)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

from desktop_fixtures import (  # noqa: F401 — fixtures are registered by import
    app_context,
    imported_project,
    new_project,
    opened_context,
    tiny_csv,
)
