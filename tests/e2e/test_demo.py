"""The demo from a fresh shell, as `make run` runs it (slow: real Presidio on 13.8k rows)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_every_available_stage_and_resumes(tmp_path):
    target = tmp_path / "demo"
    command = [sys.executable, "-m", "core.cli", "demo", "--dir", str(target), "--json"]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    status = json.loads(first.stdout)
    assert status["records"] > 13_000
    assert {run["stage"] for run in status["runs"]} >= {"import", "anonymize", "teach"}
    assert all(run["status"] == "succeeded" for run in status["runs"])
    assert status["audit"]["ok"]

    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["records"] == status["records"]
