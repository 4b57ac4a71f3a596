"""``stillroom monitor`` on a real tiny bundle: log import is idempotent, a planted shift
raises alerts (exit 1) and an unshifted replay does not, and no alert carries request text."""

from __future__ import annotations

import json

from monitor_helpers import shifted, times, unshifted

from core.cli import main
from core.monitor.replay import replay
from core.project import Project
from core.store import production


def _monitor(capsys, project_dir, *logs) -> tuple[int, dict]:
    args = ["monitor", str(project_dir), "--window-rows", "60", "--json"]
    code = main([*args, "--log", *map(str, logs)] if logs else args)
    return code, json.loads(capsys.readouterr().out)


def test_log_import_is_idempotent_and_a_shadow_answer_arriving_later_fills_its_row(
    project_dir, tmp_path, capsys
):
    bundle = project_dir / "exports" / "tiny"
    texts = unshifted(120)
    replay(bundle, texts, tmp_path / "log", times=times(120))
    _, first = _monitor(capsys, project_dir, tmp_path / "log")
    assert (first["read"], first["new"], first["updated"]) == (120, 120, 0)
    _, again = _monitor(capsys, project_dir, tmp_path / "log")
    assert (again["read"], again["new"], again["updated"]) == (120, 0, 0)
    # the same requests logged again with the teacher's shadow answers (a later log file)
    replay(bundle, texts, tmp_path / "later", times=times(120), teacher=["billing"] * 120)
    _code, later = _monitor(capsys, project_dir, tmp_path / "later")
    assert (later["new"], later["updated"]) == (0, 120)
    with Project.open(project_dir) as project:
        ((sha, rows, _, _),) = production.bundles(project.store)
        assert rows == 120
        assert all(
            r.shadow_status == "answered" for r in production.production_rows(project.store, sha)
        )
    assert later["windows"][0]["shadow_answers"] == 60


def test_an_unshifted_replay_raises_no_alert_and_a_shifted_one_does_without_text(
    project_dir, tmp_path, capsys
):
    bundle = project_dir / "exports" / "tiny"
    replay(bundle, unshifted(180), tmp_path / "same", times=times(180))
    code, quiet = _monitor(capsys, project_dir, tmp_path / "same")
    assert code == 0, quiet["alerts"]
    assert [w["tested"] for w in quiet["windows"]] == [True] * 3
    assert "temperature-calibrated" in quiet["estimate_note"] or "Warning" in quiet["estimate_note"]
    texts = shifted(120)
    replay(bundle, texts, tmp_path / "shift", times=times(120, start=180), prefix="s")
    code, loud = _monitor(capsys, project_dir, tmp_path / "shift")
    assert code == 1
    kinds = {(a["window"], a["kind"]) for a in loud["alerts"] if a["severity"] == "alert"}
    assert (3, "input drift") in kinds
    assert (4, "input drift") in kinds
    assert not any(w < 3 for w, _ in kinds)
    shown = json.dumps(loud)
    assert "quokkaphone" not in shown
    assert "garage gate" not in shown
    assert all(a["next_step"] for a in loud["alerts"])


def test_failed_requests_import_idempotently_raise_the_error_rate_alert_and_old_logs_import(
    project_dir, tmp_path, capsys
):
    import sqlite3

    from core.serve.logexport import export_log

    bundle = project_dir / "exports" / "tiny"
    at = times(180)
    failed = [(at[70 + i], "model_error", 500) for i in range(10)]
    replay(bundle, unshifted(180), tmp_path / "log", times=at, errors=failed)
    code, first = _monitor(capsys, project_dir, tmp_path / "log")
    assert (first["read"], first["new"]) == (190, 190)
    assert code == 1
    alerts = [a for a in first["alerts"] if a["kind"] == "error rate"]
    assert [a["window"] for a in alerts] == [1]
    assert "10 of 70 requests" in alerts[0]["message"]
    assert [w["errors"] for w in first["windows"]] == [0, 10, 0]
    # the same failures again, from the log folder and from its export: nothing new
    export_log(tmp_path / "log", tmp_path / "log.jsonl")
    _, again = _monitor(capsys, project_dir, tmp_path / "log", tmp_path / "log.jsonl")
    assert (again["read"], again["new"]) == (380, 0)
    assert [w["errors"] for w in again["windows"]] == [0, 10, 0]
    # a log written before failures were logged (no errors table) still imports
    replay(bundle, unshifted(60), tmp_path / "old", times=times(60, start=180), prefix="old")
    with sqlite3.connect(tmp_path / "old" / "predictions.db") as conn:
        conn.execute("DROP TABLE errors")
    _, old = _monitor(capsys, project_dir, tmp_path / "old")
    assert (old["read"], old["new"]) == (60, 60)
    with Project.open(project_dir) as project:
        ((sha, rows, _, _),) = production.bundles(project.store)
        assert rows == 240
        assert len(production.error_rows(project.store, sha)) == 10


def test_the_model_card_carries_the_monitoring_plan_from_the_monitors_own_thresholds(built):
    from core.monitor.plan import AUTO_WINDOW_ROWS, TEST_ALPHA

    card = (built / "exports" / "tiny" / "MODEL_CARD.md").read_text(encoding="utf-8")
    plan = card[card.index("Monitoring plan") :]
    assert f"p < {TEST_ALPHA:.4f}" in plan
    assert f"at least {AUTO_WINDOW_ROWS} requests" in plan
    assert "Who is alerted:" in plan
    assert "stillroom redistill" in plan


def test_the_evaluation_report_carries_the_monitoring_plan(built):
    from core.monitor.plan import TEST_ALPHA

    (report,) = built.glob("runs/evaluate-*/report.html")
    page = report.read_text(encoding="utf-8")
    plan = page[page.index("<h2>Monitoring plan</h2>") :]
    assert f"p &lt; {TEST_ALPHA:.4f}" in plan
    assert "stillroom redistill" in plan
