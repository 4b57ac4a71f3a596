"""The Train page against the real train stage on a tiny model: live and reloaded curves,
cancel then resume, and inline errors (no student, no teacher yet, out of memory)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

TRAIN_TESTS = Path(__file__).parents[1] / "core" / "train"
sys.path[:0] = [str(TRAIN_TESTS), str(TRAIN_TESTS.parent / "teacher")]

from desktop_fixtures import train_result  # noqa: E402
from tiny_models import build_classifier  # noqa: E402
from train_helpers import LABELS, cached_model, fill_project  # noqa: E402

from core.configs import to_json  # noqa: E402
from core.jobs.registry import TRAIN  # noqa: E402
from core.jobs.runs import create_run, get_run, list_runs, mark_finished, run_config  # noqa: E402
from core.project import Project, QualityFloor  # noqa: E402
from core.train.config import TrainConfig  # noqa: E402
from desktop.pages.train_page import TrainPage  # noqa: E402
from desktop.workers.stage_worker import StageWorker  # noqa: E402

RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def tiny_classifier() -> Path:
    return cached_model("tiny-classifier", build_classifier)


def _project(tmp_path: Path, *, outputs: bool = True) -> Path:
    path = tmp_path / "train"
    project = Project.create(path, task="classification", labels=LABELS, floor=QualityFloor(0.5))
    fill_project(project, 40, with_outputs=None if outputs else 0)
    project.close()
    return path


@pytest.fixture
def train_dir(tmp_path: Path) -> Path:
    """40 anonymized records with a teacher's soft labels (24 train, 8 validation)."""
    return _project(tmp_path)


def _page(qtbot, context) -> TrainPage:
    page = TrainPage(context)
    qtbot.addWidget(page)
    page.show()
    return page


@pytest.fixture
def page(qtbot, app_context, train_dir) -> TrainPage:
    app_context.open_project(train_dir)
    return _page(qtbot, app_context)


def _settings(page: TrainPage, student: Path, *, epochs: float, every: int) -> None:
    page.student.add_folder(student)
    form = page.settings
    form.epochs.setValue(epochs)
    form.batch_size.setValue(4)
    form.checkpoint_every.setValue(every)
    form.learning_rate.setCurrentText("1e-3")
    form.device.setCurrentIndex(form.device.findData("cpu"))


def test_training_draws_curves_and_a_reopened_project_shows_them(
    page, qtbot, app_context, tiny_classifier, train_dir
):
    _settings(page, tiny_classifier, epochs=1, every=3)
    worker = page.start_training()
    assert worker is not None
    seen: list[str] = []
    worker.metric.connect(lambda name, value, step: seen.append(name))
    assert worker.wait_finished(RUN_TIMEOUT_MS)
    assert worker.outcome == "succeeded", worker.error
    assert {"train/loss", "train/eval_accuracy"} <= set(seen)
    assert worker.result.global_step == 6
    assert page.chart.point_count("loss") >= 3
    assert page.chart.point_count("eval_accuracy") == 3  # steps 0 (untrained), 3 and 6
    # Worst-class retention while training: a curve point and a named class per validation.
    assert page.chart.point_count("eval_worst_class_retention") == 3
    assert page.worst_class.text().startswith("Worst class on validation at step 6: ")
    assert any(label in page.worst_class.text() for label in LABELS)
    assert "Trained 6 steps" in page.summary.text()
    assert not page.resume_button.isEnabled()

    reopened = _page(qtbot, app_context)
    assert reopened.chart.point_count() == page.chart.point_count()
    assert reopened.worst_class.text() == page.worst_class.text()
    assert reopened.student.current_path() == str(tiny_classifier)
    assert reopened.settings.checkpoint_every.value() == 3
    assert reopened.settings.device.currentData() == "cpu"


@pytest.mark.slow  # two worker processes: ~20-40 s on a loaded 2-core machine
def test_cancel_then_resume_finishes_the_same_run(page, qtbot, tiny_classifier, train_dir):
    _settings(page, tiny_classifier, epochs=5, every=4)  # 30 steps
    worker = page.start_training()
    assert worker is not None
    qtbot.waitUntil(lambda: page.chart.point_count("loss") > 0, timeout=RUN_TIMEOUT_MS)
    page.cancel_job()  # live curves arrived: stop now, it checkpoints first
    assert worker.wait_finished(RUN_TIMEOUT_MS)
    assert worker.outcome == "cancelled"
    assert page.resume_button.isEnabled()
    assert page.resume_button.text().startswith("Resume from step")

    resumed = page.resume_training()
    assert resumed is not None
    assert resumed.run_id == worker.run_id
    assert resumed.wait_finished(RUN_TIMEOUT_MS)
    assert resumed.outcome == "succeeded", resumed.error
    assert resumed.result.resumed is True
    assert 0 < resumed.result.resumed_from_step < resumed.result.global_step
    assert page.chart.point_count("loss") > 0
    with Project.open(train_dir) as project:
        assert [run.status for run in list_runs(project, "train")] == ["succeeded"]


def test_no_student_chosen_is_an_inline_error(qtbot, app_context, train_dir, monkeypatch):
    # A computer with no model package installed: the catalogue finds nothing to recommend.
    monkeypatch.setattr("core.train.catalogue.default_roots", lambda: [])
    app_context.open_project(train_dir)
    page = _page(qtbot, app_context)
    assert page.lookups_finished(60_000)
    assert page.start_training() is None
    assert page.banner.level() == "error"
    assert page.banner.message() == "No student model is chosen."
    assert page.worker is None


def test_training_before_the_teacher_ran_is_an_inline_error(
    qtbot, app_context, tmp_path, tiny_classifier
):
    project_dir = _project(tmp_path, outputs=False)
    app_context.open_project(project_dir)
    page = _page(qtbot, app_context)
    _settings(page, tiny_classifier, epochs=1, every=3)
    assert page.start_training() is None  # said at once, before any worker starts
    assert page.banner.level() == "error"
    assert page.banner.message() == "The project has no teacher outputs to learn from."
    assert page.banner.hint() == "Label the records on the Teacher page first."
    with Project.open(project_dir) as project:
        assert list_runs(project) == []


@pytest.mark.slow  # a worker process that loads torch: ~10-25 s on a loaded 2-core machine
def test_an_impossible_student_fails_inline_from_the_worker(page, tiny_classifier, tmp_path):
    # The layers box stops below the model's depth, so ask for what only the run can refuse:
    # layer dropping from an architecture it does not support.
    odd = tmp_path / "odd-classifier"
    shutil.copytree(tiny_classifier, odd)
    config = json.loads((odd / "config.json").read_text(encoding="utf-8"))
    (odd / "config.json").write_text(json.dumps({**config, "model_type": "distilbert"}))
    _settings(page, odd, epochs=1, every=3)
    page.student.derive_radio.setChecked(True)
    worker = page.start_training()
    assert worker is not None
    assert worker.wait_finished(RUN_TIMEOUT_MS)
    assert worker.outcome == "failed"
    assert worker.error["exit_code"] == 2
    assert page.banner.level() == "error"
    assert "distilbert models are not supported for layer dropping" in page.banner.message()
    assert page.resume_button.isEnabled()  # a failed run can be resumed once fixed


def test_out_of_memory_advice_and_resume_at_half_the_batch(page, qtbot, tiny_classifier,
                                                          train_dir):  # fmt: skip
    config = TrainConfig(student=str(tiny_classifier), batch_size=8, device="cpu")
    with Project.open(train_dir) as project:
        run_id = create_run(project, TRAIN, config)
        mark_finished(project, run_id, "failed", error_class="TrainOutOfMemoryError")
    # What the page hears when a worker stops out of memory (exit code 3).
    page.worker = StageWorker(page)
    page.worker.run_id = run_id
    error = {"exit_code": 3, "user_error": True, "hint": "lower --batch-size",
             "message": "training ran out of host memory at batch size 8"}  # fmt: skip
    page.on_stage_failed("train", error)
    page.refresh()
    assert page.banner.message() == "Training ran out of host memory at batch size 8."
    assert "batch size 4" in page.banner.hint()
    assert page.settings.batch_size.value() == 4
    assert page.resume_button.isEnabled()

    resumed = page.resume_training()
    assert resumed is not None
    with Project.open(train_dir) as project:
        stored = run_config(project, TRAIN, get_run(project, run_id))
    assert (stored.batch_size, stored.grad_accum) == (4, 2)  # the same effective batch
    resumed.cancel()
    resumed.cancel()  # force stop: this test only needs the resume to start
    assert resumed.wait_finished(RUN_TIMEOUT_MS)


def test_a_copied_project_shows_its_own_student(qtbot, app_context, tmp_path):
    original = _project(tmp_path)
    with Project.open(original) as project:
        run_id = create_run(project, TRAIN, TrainConfig(student="x"))
        result = train_result(project.run_dir(run_id) / "student", run_id=run_id)
        mark_finished(project, run_id, "succeeded", result=to_json(result, project.path))
    copy = tmp_path / "archive" / "copy"
    shutil.copytree(original, copy)
    shutil.rmtree(original)
    app_context.open_project(copy)
    page = _page(qtbot, app_context)
    student = copy.resolve() / "runs" / run_id / "student"
    assert f"The student is in {student}." in page.summary.text()


def test_a_student_no_better_than_its_untrained_start_needs_attention(qtbot, app_context, tmp_path):
    path = _project(tmp_path)
    with Project.open(path) as project:
        run_id = create_run(project, TRAIN, TrainConfig(student="x"))
        result = train_result(
            project.run_dir(run_id) / "student", run_id=run_id, task="generation",
            val_metric_name="loss", best_val_metric=15.3, validation={"loss": 15.3},
            initial_validation={"loss": 11.9},
        )  # fmt: skip
        mark_finished(project, run_id, "succeeded", result=to_json(result, project.path))
    app_context.open_project(path)
    page = _page(qtbot, app_context)
    text = page.summary.text()
    assert text.startswith("Needs attention: The student is no better than its untrained start")
    assert "validation loss 15.3000 at its best checkpoint vs 11.9000 at step 0" in text


def test_a_run_that_kept_its_final_weights_is_described_and_marked_as_such(
    qtbot, app_context, tmp_path
):
    path = _project(tmp_path)
    with Project.open(path) as project:
        config = TrainConfig(student="x", keep_best=False, early_stopping=0)  # a re-distillation
        run_id = create_run(project, TRAIN, config)
        result = train_result(project.run_dir(run_id) / "student", run_id=run_id)
        mark_finished(project, run_id, "succeeded", result=to_json(result, project.path))
    app_context.open_project(path)
    page = _page(qtbot, app_context)
    assert "final weights' validation" in page.summary.text()
    assert "best validation" not in page.summary.text()
    assert page.chart.keeps_last
