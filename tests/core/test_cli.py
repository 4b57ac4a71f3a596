"""The CLI contract of DESIGN §6: --help, --json, exit 0 / 2 with one actionable line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.anonymize.config import AnonymizeConfig
from core.cli import build_parser, main
from core.data.importer import ImportConfig
from core.jobs.registry import PIPELINE
from core.teacher.config import TeachConfig
from core.train.config import TrainConfig

COMMANDS = [
    ["init"],
    ["import"],
    ["status"],
    ["audit"],
    ["audit", "verify"],
    ["audit", "show"],
    ["audit", "export"],
    ["keys"],
    ["keys", "export-public"],
    ["bundle", "verify"],
    ["predict"],
    ["train"],
    ["models"],
    ["worker"],
    ["demo"],
]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: stillroom" in capsys.readouterr().out


def test_every_leaf_command_takes_json():
    parser = build_parser()
    for command in (["init", "d", "--floor", "0.9"], ["status", "d"], ["audit", "verify", "d"]):
        assert parser.parse_args([*command, "--json"]).json is True


def test_init_then_status_as_json(capsys, tmp_path):
    target = tmp_path / "proj"
    code, out, _ = run(
        capsys,
        "init",
        str(target),
        "--labels",
        "urgent,routine",
        "--floor",
        "0.95",
        "--max-ece",
        "0.1",
        "--json",
    )
    assert code == 0
    created = json.loads(out)
    assert created["labels"] == ["urgent", "routine"]
    assert created["floor"] == {"min_retention": 0.95, "min_metric": None, "max_ece": 0.1}

    code, out, _ = run(capsys, "status", str(target), "--json")
    status = json.loads(out)
    assert code == 0
    assert status["records"] == 0
    assert status["audit"]["ok"] is True
    assert list(status["stages"]) == [stage.key for stage in PIPELINE]
    assert status["stages"]["import"]["state"] == "not_started"
    assert status["stages"]["train"]["reason"] == "Run the teacher first."
    code, out, _ = run(capsys, "status", str(target))
    assert "  Train      Locked: Run the teacher first." in out.splitlines()


@pytest.mark.parametrize(
    ("command", "config"),
    [("import", ImportConfig), ("anonymize", AnonymizeConfig), ("teach", TeachConfig),
     ("train", TrainConfig)],
)  # fmt: skip
def test_options_leave_their_defaults_to_the_config_dataclass(command, config):
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    fields = {field.name for field in dataclasses.fields(config)}
    options = [a for a in commands.choices[command]._actions if a.dest in fields]
    assert len(options) >= 8
    assert [a.dest for a in options if a.default is not None] == []


def test_human_output_names_the_next_step(capsys, tmp_path):
    code, out, _ = run(capsys, "init", str(tmp_path / "p"), "--floor", "0.9")
    assert code == 0
    assert "next: stillroom import" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "{tmp}"],
        ["init", "{tmp}/p", "--floor", "3"],
        ["init", "{tmp}/p", "--floor", "0.9", "--labels", "only-one"],
        ["audit", "verify", "{tmp}/missing"],
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, tmp_path, argv):
    code, out, err = run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2
    assert out == ""
    assert err.startswith("stillroom: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_user_error_with_json_is_machine_readable(capsys, tmp_path):
    code, out, _ = run(capsys, "status", str(tmp_path), "--json")
    assert code == 2
    assert json.loads(out)["error"] == "NotAProjectError"


def test_audit_verify_reports_the_first_broken_row(capsys, tmp_path):
    target = tmp_path / "p"
    run(capsys, "init", str(target), "--floor", "0.9", "--labels", "a,b")
    code, out, _ = run(capsys, "audit", "verify", str(target))
    assert code == 0
    assert "intact: 1 rows" in out

    conn = sqlite3.connect(target / "stillroom.db")
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET action = 'forged' WHERE id = 1")
    conn.commit()
    conn.close()
    code, out, _ = run(capsys, "audit", "verify", str(target), "--json")
    assert code == 1
    assert json.loads(out)["first_broken_id"] == 1


def test_audit_show_lists_entries(capsys, tmp_path):
    run(capsys, "init", str(tmp_path / "p"), "--floor", "0.9")
    code, out, _ = run(capsys, "audit", "show", str(tmp_path / "p"))
    assert code == 0
    assert "project.create" in out


def test_console_script_starts_fast_without_heavy_imports():
    probe = (
        "import sys, time; t = time.perf_counter(); from core.cli import build_parser; "
        "build_parser(); print(time.perf_counter() - t); "
        "print(any(m in sys.modules for m in ('torch', 'transformers', 'presidio_analyzer', "
        "'PySide6', 'pyarrow', 'openpyxl')))"
    )
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[1] == "False"
    assert time.perf_counter() - start < 10


def test_every_command_runs_with_passive_openmp_waiting(tmp_path):
    # Busy-waiting OpenMP threads made the demo's preview take 8 minutes on a shared box
    # (issue 17): importing core sets the default for every command, a user's value wins.
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import os, core; print(os.environ['OMP_WAIT_POLICY'])"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2])  # fmt: skip
    assert run.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2])  # fmt: skip
    assert run.stdout.strip() == "ACTIVE"
