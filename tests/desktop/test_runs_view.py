"""The runs view (issue 20): compare two training runs, choose the earlier student for
Evaluate and Export."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt

from core.configs import to_json
from core.jobs import runs
from core.jobs.registry import TRAIN
from core.project import Project, QualityFloor
from core.train.config import TrainConfig, TrainResult
from desktop.pages.train_page import TrainPage


def _train(project: Project, alpha: float, best: float) -> str:
    run_id = runs.create_run(project, TRAIN, TrainConfig(alpha=alpha))
    folder = project.run_dir(run_id) / "student"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    curves = project.run_dir(run_id) / "curves.jsonl"
    curves.write_text("\n".join(json.dumps({"step": s, "loss": best / s}) for s in (1, 2, 3)),
                      encoding="utf-8")  # fmt: skip
    result = TrainResult(
        run_id=run_id, model_dir=folder, lineage_path=folder / "lineage.json",
        curves_path=curves, task="classification", teacher_id="t", prompt_version="",
        resumed=False, resumed_from_step=0, global_step=3, epochs_run=1.0,
        best_val_metric=best, val_metric_name="macro_f1", stopped_early=False,
        train_examples=10, validation_examples=5, samples_per_s=1.0, peak_memory_mb=1.0,
        device="cpu", batch_size=4, grad_accum=1, oom_retries=0, seconds=1.0,
        truncated_share=0.0,
    )  # fmt: skip
    runs.mark_running(project, run_id, os.getpid())
    runs.mark_finished(project, run_id, "succeeded", result=to_json(result, project.path))
    return run_id


def _project(tmp_path: Path) -> tuple[Path, str, str]:
    path = tmp_path / "runs-project"
    with Project.create(path, task="classification", labels=("a", "b"),
                        floor=QualityFloor(0.9)) as project:  # fmt: skip
        first = _train(project, 0.5, 0.71)
        second = _train(project, 0.9, 0.64)
    return path, first, second


def _dialog(qtbot, app_context, path):
    app_context.open_project(path)
    page = TrainPage(app_context)
    qtbot.addWidget(page)
    dialog = page.open_runs()
    dialog.page = page  # the page owns the dialog: keep it alive for the test
    return dialog


def _select(table, rows):
    table.clearSelection()
    model = table.selectionModel()
    for row in rows:
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        model.select(table.model().index(row, 0), flags)


def test_compare_two_runs(qtbot, app_context, tmp_path):
    path, first, second = _project(tmp_path)
    dialog = _dialog(qtbot, app_context, path)
    view = dialog.view
    assert [r.id for r in view.table.runs] == [second, first]
    assert not view.compare_button.isEnabled()
    _select(view.table, [0, 1])
    assert view.compare_button.isEnabled()
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    assert view.comparison.isVisible()
    table = view.comparison.table
    rows = {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text())
            for r in range(table.rowCount())}  # fmt: skip
    assert rows["alpha"] == ("0.5", "0.9")
    assert rows["best_val_metric"] == ("0.71", "0.64")
    assert len(view.comparison.chart.chart().series()) == 2  # a loss curve per run


def test_choose_the_earlier_student(qtbot, app_context, tmp_path):
    path, first, _ = _project(tmp_path)
    dialog = _dialog(qtbot, app_context, path)
    view = dialog.view
    assert view.table.runs[0].chosen  # the newest, until another is chosen
    _select(view.table, [1])
    assert view.choose_button.isEnabled()
    qtbot.mouseClick(view.choose_button, Qt.MouseButton.LeftButton)
    assert dialog.banner.level() == "info", dialog.banner.message()
    assert [r.id for r in view.table.runs if r.chosen] == [first]
    assert view.table.item(1, 0).text() == f"★ {first}"
    from core.evaluate.inputs import find_student

    with Project.open(path) as project:
        assert find_student(project, None).model_dir == project.run_dir(first) / "student"
        audit = project.store.query("SELECT details FROM audit WHERE action = 'student.choose'")
    assert json.loads(audit[-1]["details"])["run"] == first
