"""The foundation: StageWorker against the real worker process, JobPanel, banner, dialog."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication

from core.data.importer import ImportConfig
from core.errors import DataFileError
from core.jobs import protocol
from core.jobs.locks import StageBusyError
from core.jobs.registry import IMPORT, SELFTEST
from core.jobs.runs import get_run, list_runs
from core.jobs.selftest import SelftestConfig, SelftestResult
from core.project import Project
from desktop.pages.base import StagePage
from desktop.widgets.banner import InlineBanner
from desktop.widgets.error_dialog import ErrorDialog, show_error_dialog
from desktop.widgets.job_panel import JobPanel, format_duration
from desktop.workers.stage_worker import StageWorker

SECRET = "Jane Roe7 writes"  # stands in for row contents that must never be shown


class Recorder:
    """Every signal of a worker, in order."""

    def __init__(self, worker: StageWorker) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        for name in ("started", "progress", "metric", "succeeded", "cancelled", "failed"):
            getattr(worker, name).connect(lambda *a, n=name: self.events.append((n, a)))
        worker.finished.connect(lambda: self.events.append(("finished", ())))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def first(self, kind: str) -> tuple[Any, ...]:
        return next(args for k, args in self.events if k == kind)


def _status(project_dir, run_id):
    with Project.open(project_dir) as project:
        return get_run(project, run_id)


def _wait_for_step(qtbot, recorder, step):
    qtbot.waitUntil(
        lambda: any(k == "metric" and a[2] >= step for k, a in recorder.events), timeout=20_000
    )


def test_worker_succeeds_with_progress_and_metrics(qtbot, new_project):
    worker = StageWorker()
    recorder = Recorder(worker)
    run_id = worker.start(new_project, SELFTEST, SelftestConfig(steps=4))
    assert worker.is_running()
    assert worker.wait_finished(30_000)
    kinds = recorder.kinds()
    assert kinds[0] == "started"
    assert recorder.first("started") == (run_id,)
    assert kinds[-2:] == ["succeeded", "finished"]
    assert [a for k, a in recorder.events if k == "metric"] == [
        ("selftest.step", float(i), i) for i in range(1, 5)
    ]
    assert recorder.first("succeeded") == (SelftestResult(steps=4, resumed_from=0),)
    assert ("progress", (1.0, "step 4 of 4")) in recorder.events
    assert worker.outcome == "succeeded"
    assert not worker.is_running()
    assert _status(new_project, run_id).status == "succeeded"


def test_cancel_stops_cleanly_and_resumes(qtbot, new_project):
    worker = StageWorker()
    recorder = Recorder(worker)
    run_id = worker.start(new_project, SELFTEST, SelftestConfig(steps=120, delay_s=0.02))
    _wait_for_step(qtbot, recorder, 3)
    worker.cancel()
    assert worker.wait_finished(30_000)
    assert recorder.kinds()[-2:] == ["cancelled", "finished"]
    assert _status(new_project, run_id).status == "cancelled"

    resumed = Recorder(worker)
    assert worker.start(new_project, IMPORT, None, run_id=run_id) == run_id  # both ignored
    assert worker.stage is SELFTEST
    assert worker.wait_finished(60_000)
    result = resumed.first("succeeded")[0]
    assert result.steps == 120
    assert result.resumed_from >= 3


def test_a_user_error_is_reported_as_one(qtbot, new_project, tmp_path):
    config = ImportConfig(source=tmp_path / "missing.csv", text_column="text")
    worker = StageWorker()
    recorder = Recorder(worker)
    run_id = worker.start(new_project, IMPORT, config)
    assert worker.wait_finished(30_000)
    error = recorder.first("failed")[0]
    assert error["user_error"] is True
    assert error["exit_code"] == 2
    assert error["error_class"]
    assert error["message"]
    assert "log" in error
    assert recorder.kinds()[-1] == "finished"
    assert _status(new_project, run_id).status == "failed"


def test_a_crash_is_not_a_user_error_and_names_the_log(qtbot, new_project):
    worker = StageWorker()
    recorder = Recorder(worker)
    worker.start(new_project, SELFTEST, SelftestConfig(steps=5, fail_at=2))
    assert worker.wait_finished(30_000)
    error = recorder.first("failed")[0]
    assert error["user_error"] is False
    assert error["exit_code"] == protocol.EXIT_CRASH == 4
    assert error["error_class"] == "RuntimeError"
    assert error["log"].endswith("worker.log")


def test_a_stage_running_in_another_process_is_refused_before_a_run_is_made(qtbot, new_project):
    first = StageWorker()
    recorder = Recorder(first)
    first.start(new_project, SELFTEST, SelftestConfig(steps=400, delay_s=0.05))
    _wait_for_step(qtbot, recorder, 1)  # its worker process holds the stage's lock now
    second = StageWorker()
    with pytest.raises(StageBusyError, match=r"selftest is already running .*\(pid \d+\)"):
        second.start(new_project, SELFTEST, SelftestConfig(steps=3))
    assert not second.is_running()
    with Project.open(new_project) as project:
        assert len(list_runs(project)) == 1
    first.cancel()
    assert first.wait_finished(30_000)


def test_force_stop_kills_and_leaves_the_run_resumable(qtbot, new_project):
    worker = StageWorker()
    recorder = Recorder(worker)
    run_id = worker.start(new_project, SELFTEST, SelftestConfig(steps=10_000, delay_s=0.05))
    _wait_for_step(qtbot, recorder, 1)
    worker.cancel()
    worker.cancel()
    assert worker.wait_finished(30_000)
    assert recorder.kinds()[-2:] == ["cancelled", "finished"]
    assert _status(new_project, run_id).status in ("interrupted", "cancelled")


def test_a_worker_killed_from_outside_fails_and_is_marked_interrupted(qtbot, new_project):
    worker = StageWorker()
    recorder = Recorder(worker)
    run_id = worker.start(new_project, SELFTEST, SelftestConfig(steps=10_000, delay_s=0.05))
    _wait_for_step(qtbot, recorder, 1)
    os.kill(worker.process_id(), signal.SIGKILL)
    assert worker.wait_finished(30_000)
    error = recorder.first("failed")[0]
    assert error["error_class"] == "WorkerDied"
    assert error["user_error"] is False
    assert _status(new_project, run_id).status == "interrupted"


def test_job_panel_cancel_turns_into_force_stop(qtbot, new_project):
    panel = JobPanel()
    qtbot.addWidget(panel)
    worker = StageWorker()
    recorder = Recorder(worker)
    panel.attach(worker)
    worker.start(new_project, SELFTEST, SelftestConfig(steps=10_000, delay_s=0.05))
    _wait_for_step(qtbot, recorder, 1)
    assert panel.cancel_button.isVisible()
    assert panel.cancel_button.text() == "Cancel"
    qtbot.waitUntil(lambda: panel.message_label.text().startswith("step"), timeout=10_000)
    assert panel.progress_bar.maximum() == 1000  # no longer the busy indicator
    panel.cancel_button.click()
    assert panel.cancel_button.text() == "Force stop"
    assert worker.cancel_requested()
    panel.cancel_button.click()
    assert not panel.cancel_button.isEnabled()
    assert worker.wait_finished(30_000)
    assert not panel.cancel_button.isVisible()
    assert "resumed" in panel.message_label.text()


def test_format_duration():
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"


def test_banner_shows_user_errors_as_sentences(qtbot):
    banner = InlineBanner()
    qtbot.addWidget(banner)
    assert banner.isHidden()
    assert banner.level() is None
    banner.show_user_error(DataFileError("the file is empty", "choose another file"))
    assert not banner.isHidden()
    assert (banner.level(), banner.message(), banner.hint()) == (
        "error",
        "The file is empty.",
        "Choose another file.",
    )
    banner.show_info("Saved.")
    assert banner.level() == "info"
    assert banner.hint() == ""
    banner.clear()
    assert banner.isHidden()
    assert banner.message() == ""


def test_error_dialog_copies_details(qtbot, tmp_path):
    log = tmp_path / "worker.log"
    log.write_text("Traceback frame in core/x.py line 3\n", encoding="utf-8")
    show_error_dialog(None, "The train stage stopped.", "error: RuntimeError", log)
    dialog = next(w for w in QGuiApplication.topLevelWindows() if w.title() and w.isVisible())
    assert dialog.title() == "Stillroom stopped on an unexpected error"
    from desktop.widgets import error_dialog

    shown = next(iter(error_dialog._ORPHANS))
    shown.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "The train stage stopped." in copied
    assert "RuntimeError" in copied
    assert str(log) in copied
    assert "core/x.py" in copied
    shown.close()


class _Page(StagePage):
    title = "Self test"

    def build(self) -> None:
        self.results: list[SelftestResult] = []
        self.refreshes = 0

    def refresh(self) -> None:
        self.refreshes += 1

    def on_stage_succeeded(self, stage: str, result: SelftestResult) -> None:
        self.results.append(result)


@pytest.fixture
def page(qtbot, opened_context):
    page = _Page(opened_context)
    qtbot.addWidget(page)
    page.show()
    return page


def test_page_runs_a_stage_and_announces_the_change(qtbot, page):
    changes = []
    page.context.stages_changed.connect(lambda: changes.append(1))
    worker = page.start_stage(SELFTEST, SelftestConfig(steps=3))
    assert page.busy()
    assert not page.job_panel.isHidden()
    assert worker.wait_finished(30_000)
    assert page.results == [SelftestResult(steps=3, resumed_from=0)]
    assert len(changes) == 2  # started (sidebar shows running), finished
    assert not page.busy()
    assert page.banner.isHidden()


def test_page_shows_a_user_error_in_the_banner(qtbot, page, tmp_path):
    config = ImportConfig(source=tmp_path / "nope.csv", text_column="t")
    assert page.start_stage(IMPORT, config).wait_finished(30_000)
    assert page.banner.level() == "error"
    assert page.findChild(ErrorDialog) is None


def test_page_shows_a_crash_in_the_dialog_without_its_message(qtbot, page):
    worker = page.start_stage(SELFTEST, SelftestConfig(steps=3, fail_at=1))
    assert worker.wait_finished(30_000)
    dialog = page.findChild(ErrorDialog)
    assert dialog is not None
    assert dialog.isVisible()
    assert "worker.log" in dialog.log_label.text()
    # The worker's RuntimeError message stands in for row contents: it never reaches the UI.
    # (The log's stack frames quote source lines, so the check is for the formatted text.)
    message = "injected at step 1"
    assert message not in dialog.details()
    assert message not in page.banner.message()
    assert "RuntimeError" in dialog.details()
    dialog.close()


def test_run_guarded(qtbot, page):
    def fails_for_user():
        raise DataFileError("the file is empty")

    def crashes():
        raise ValueError(SECRET)

    assert page.run_guarded(lambda x: x + 1, 1) == 2
    assert page.run_guarded(fails_for_user) is None
    assert page.banner.message() == "The file is empty."
    assert page.run_guarded(crashes) is None
    dialog = page.findChild(ErrorDialog)
    assert "ValueError" in dialog.details()
    assert SECRET not in dialog.details()
    assert SECRET not in dialog.summary_label.text()
    dialog.close()


def test_page_refreshes_when_shown_after_a_change(qtbot, page):
    before = page.refreshes
    page.context.stages_changed.emit()
    assert page.refreshes == before + 1
    page.hide()
    page.context.stages_changed.emit()
    assert page.refreshes == before + 1
    page.show()
    assert page.refreshes == before + 2


def test_no_project_open_is_a_banner_not_a_crash(qtbot, app_context):
    page = _Page(app_context)
    qtbot.addWidget(page)
    worker = page.start_stage(SELFTEST, SelftestConfig())
    assert not worker.is_running()
    assert page.banner.message() == "No project is open."
