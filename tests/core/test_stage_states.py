"""Stage states for the sidebar, derived from the runs table and the stages' own tables."""

from __future__ import annotations

import csv
import os

from core.data import ImportConfig
from core.jobs import runs
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT, PIPELINE, stage
from core.reporter import NullReporter
from core.stage_states import stage_states
from core.status import project_status, render_status

STAGE_KEYS = ("project", *(s.key for s in PIPELINE))


def _run(project, key, status="succeeded", error=None):
    run_id = runs.create_run(project, stage(key), {})
    runs.mark_running(project, run_id, os.getpid())
    if status != "running":
        runs.mark_finished(project, run_id, status, error_class=error and "E", error_message=error)
    return run_id


def _states(project):
    return {key: (s.state, s.reason) for key, s in stage_states(project).items()}


def test_a_new_project_has_only_the_data_stage_open(labelled_project):
    states = stage_states(labelled_project)
    assert list(states) == list(STAGE_KEYS)
    assert states["project"].state == "done"
    assert "90%" in states["project"].reason
    assert states["import"].state == "not_started"
    for key in ("anonymize", "teach", "train", "evaluate", "export"):
        assert states[key].state == "locked", key
    assert states["anonymize"].reason == "Import data first."
    assert states["export"].reason == "Evaluate the student first."


def test_stages_unlock_in_order(labelled_project):
    _run(labelled_project, "import")
    _run(labelled_project, "anonymize")
    states = _states(labelled_project)
    assert states["import"][0] == "done"
    assert states["anonymize"][0] == "done"
    assert states["teach"][0] == "not_started"
    assert states["train"] == ("locked", "Run the teacher first.")


def test_a_real_import_counts_records(labelled_project, tmp_path):
    path = tmp_path / "d.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(
            [f"row {i} text", ("billing", "clinical", "other")[i % 3]] for i in range(30)
        )
    run_stage(
        labelled_project,
        IMPORT,
        ImportConfig(source=path, text_column="text", label_column="label"),
        reporter=NullReporter(),
    )
    state = stage_states(labelled_project)["import"]
    assert state.state == "done"
    assert state.reason == "30 records imported."
    assert stage_states(labelled_project)["anonymize"].state == "not_started"


def test_running_and_stopped_runs(labelled_project):
    _run(labelled_project, "import")
    running = _run(labelled_project, "anonymize", "running")
    state = stage_states(labelled_project)["anonymize"]
    assert (state.state, state.run_id) == ("running", running)
    assert state.reason == "The anonymization run is in progress."
    runs.mark_finished(labelled_project, running, "cancelled")
    state = stage_states(labelled_project)["anonymize"]
    assert state.state == "needs_attention"
    assert state.run_id == running
    assert state.reason == "The last anonymization run was cancelled; resume it."


def test_a_dead_worker_reads_as_interrupted(labelled_project):
    _run(labelled_project, "import")
    run_id = runs.create_run(labelled_project, stage("teach"), {})
    runs.mark_running(labelled_project, run_id, 2**22 + 12345)  # no such process
    _run(labelled_project, "anonymize")
    state = stage_states(labelled_project)["teach"]
    assert state.state == "needs_attention"
    assert "interrupted" in state.reason
    assert "resume" in state.reason


def test_a_failure_names_the_error_but_not_the_hint(labelled_project):
    _run(labelled_project, "import")
    _run(labelled_project, "anonymize")
    _run(labelled_project, "teach")
    _run(labelled_project, "train", "failed", "the student cannot be loaded — pick another")
    state = stage_states(labelled_project)["train"]
    assert state.state == "needs_attention"
    assert state.reason == (
        "The last training run failed (the student cannot be loaded); fix the cause, "
        "then resume it."
    )


def test_a_failed_second_import_leaves_the_data_done(labelled_project):
    _run(labelled_project, "import")
    _run(labelled_project, "import", "failed", "the same file was already imported")
    assert stage_states(labelled_project)["import"].state == "done"


def test_a_failed_first_import_needs_attention(labelled_project):
    _run(labelled_project, "import", "failed", "column 'txt' not found — columns are: text")
    state = stage_states(labelled_project)["import"]
    assert state.state == "needs_attention"
    assert state.reason == "The last import failed (column 'txt' not found)."
    assert stage_states(labelled_project)["anonymize"].state == "locked"


def test_reimporting_makes_everything_downstream_stale(labelled_project):
    for key in ("import", "anonymize", "teach", "train", "evaluate", "export", "serve", "monitor"):
        _run(labelled_project, key)
    assert {s.state for s in stage_states(labelled_project).values()} == {"done"}
    _run(labelled_project, "import")
    states = _states(labelled_project)
    assert states["import"][0] == "done"
    assert states["anonymize"] == (
        "stale",
        "The data was re-imported after anonymization ran; run it again.",
    )
    assert states["teach"] == (
        "stale",
        "The data was re-imported after the teacher ran; run it again.",
    )
    assert states["export"][0] == "stale"


def test_staleness_names_the_nearest_upstream_change(labelled_project):
    for key in ("import", "anonymize", "teach", "train"):
        _run(labelled_project, key)
    _run(labelled_project, "import")
    _run(labelled_project, "anonymize")
    states = _states(labelled_project)
    assert states["anonymize"][0] == "done"
    assert states["teach"][1] == (
        "The anonymization was re-run after the teacher ran; run it again."
    )
    _run(labelled_project, "teach")
    assert _states(labelled_project)["train"][1] == (
        "The teacher was re-run after the student was trained; run it again."
    )


def test_status_shows_every_stage_of_the_registry_with_its_state(labelled_project):
    _run(labelled_project, "import")
    _run(labelled_project, "anonymize", "cancelled")
    status = project_status(labelled_project)
    assert list(status["stages"]) == list(STAGE_KEYS[1:])
    assert status["stages"]["teach"] == {
        "title": "Teacher", "state": "locked", "reason": "Anonymize the data first.", "run_id": None
    }  # fmt: skip
    lines = render_status(status)
    cancelled = "The last anonymization run was cancelled; resume it."
    assert f"  Anonymize  Needs attention: {cancelled}" in lines
    assert "  Train      Locked: Run the teacher first." in lines


def test_the_monitor_needs_an_export_not_a_trial_server(labelled_project):
    for key in ("import", "anonymize", "teach", "train", "evaluate"):
        _run(labelled_project, key)
    assert stage_states(labelled_project)["monitor"].state == "locked"
    _run(labelled_project, "export")
    assert stage_states(labelled_project)["monitor"].state == "not_started"
    _run(labelled_project, "monitor")
    _run(labelled_project, "serve")  # a trial server afterwards does not outdate it
    assert stage_states(labelled_project)["monitor"].state == "done"
