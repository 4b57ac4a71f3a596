"""Exit codes: an internal error has its own (4), apart from a failed check (1) and bad input
(2); it prints one line naming a log that holds the stack and no data; all are documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.commands.progress import run_stage
from core.errors import InternalError
from core.jobs import protocol
from core.jobs.registry import SELFTEST
from core.jobs.selftest import SelftestConfig

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Jane Roe 078-05-1120"


def test_the_codes_are_distinct_and_4_is_the_internal_error():
    codes = [protocol.EXIT_OK, protocol.EXIT_CHECK_FAILED, protocol.EXIT_USER_ERROR,
             protocol.EXIT_OUT_OF_MEMORY, protocol.EXIT_CRASH,
             protocol.EXIT_INTERRUPTED]  # fmt: skip
    assert codes == [0, 1, 2, 3, 4, 130]
    assert InternalError("x").exit_code == protocol.EXIT_CRASH


def test_an_unexpected_error_in_a_command_is_one_line_naming_the_log(tmp_path, capsys):
    project = tmp_path / "proj"
    assert main(["init", str(project), "--labels", "a,b", "--floor", "0.9"]) == 0
    # A damaged setting makes `status` fail inside the library, not on anything it checks.
    import sqlite3

    with sqlite3.connect(project / "stillroom.db") as conn:
        conn.execute("UPDATE settings SET value = ? WHERE key = 'floor'", (SECRET,))
    cache = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "status", str(project)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "STILLROOM_CACHE": str(cache)},
    )  # fmt: skip
    assert done.returncode == protocol.EXIT_CRASH
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("stillroom: error: internal error in `stillroom status` (")
    log = cache / "logs" / "cli-errors.log"
    assert str(log) in lines[0]
    text = log.read_text()
    assert "Traceback" not in done.stderr
    assert "project_status" in text  # where it happened
    assert SECRET not in text + done.stderr + done.stdout  # never what it said
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_a_stage_that_crashes_under_the_cli_exits_4_not_2(project):
    with pytest.raises(InternalError) as raised:
        run_stage(project, SELFTEST, SelftestConfig(steps=3, fail_at=1))
    assert raised.value.exit_code == protocol.EXIT_CRASH
    assert "the selftest stage stopped on an internal error (RuntimeError)" in raised.value.message
    assert raised.value.hint.startswith(f"the details are in {project.runs_dir}")


def test_every_exit_code_is_documented_in_one_place(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code, meaning in [("0", "success"), ("1", "a check failed"), ("2", "bad input"),
                          ("3", "out of memory"), ("4", "internal error"),
                          ("130", "interrupted")]:  # fmt: skip
        assert f"{code} {meaning}" in shown
        assert re.search(rf"^\| `{code}` \| {meaning}", section, re.MULTILINE | re.IGNORECASE)
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    assert "4 internal error" in " ".join(capsys.readouterr().out.split())
