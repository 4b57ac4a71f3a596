"""The Train page's student and settings choices agree with the core: a derived copy starts at
``stillroom train --derive``'s default layers for the chosen model (issue 17), and rare-class
augmentation (``--augment-rare N``, issue 16) has a control that reaches the TrainConfig."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TRAIN_TESTS = Path(__file__).parents[1] / "core" / "train"
sys.path[:0] = [str(TRAIN_TESTS), str(TRAIN_TESTS.parent / "teacher")]

from tiny_models import build_causal, build_classifier  # noqa: E402
from train_helpers import LABELS, build_tiny_bert4, cached_model, fill_project  # noqa: E402

from core.jobs.registry import TRAIN  # noqa: E402
from core.jobs.runs import create_run, get_run, mark_finished, run_config  # noqa: E402
from core.project import Project, QualityFloor  # noqa: E402
from core.train.catalogue import ModelEntry  # noqa: E402
from core.train.config import TrainConfig  # noqa: E402
from core.train.derive import default_layers  # noqa: E402
from desktop.pages.train_page import TrainPage  # noqa: E402
from desktop.widgets.student_picker import StudentPicker  # noqa: E402
from desktop.widgets.train_settings_form import TrainSettingsForm  # noqa: E402

RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def tiny_bert4() -> Path:
    return cached_model("tiny-bert4", build_tiny_bert4)


@pytest.fixture(scope="module")
def tiny_causal() -> Path:
    return cached_model("tiny-causal", build_causal)


@pytest.fixture(scope="module")
def tiny_classifier() -> Path:
    return cached_model("tiny-classifier", build_classifier)


def _picker(qtbot) -> StudentPicker:
    picker = StudentPicker()
    qtbot.addWidget(picker)
    picker.show()
    return picker


def _smol_entry() -> ModelEntry:
    """A 30-layer decoder from the catalogue (SmolLM2-135M's shape; no files needed)."""
    return ModelEntry(path=Path("/cache/gguf/SmolLM2-135M"), model_type="llama",
                      architecture="GGUF (llama)", layers=30, parameters=134_515_008,
                      size_bytes=0, tasks=("classification", "generation"))  # fmt: skip


# -- the layers a derived copy keeps ---------------------------------------------------------


def test_a_copy_keeps_the_cores_default_layers_of_the_chosen_model(qtbot, tiny_bert4, tiny_causal):
    picker = _picker(qtbot)
    picker.derive_radio.setChecked(True)
    picker.add_folder(tiny_bert4)  # an encoder of 4 layers: half
    assert (picker.layers.value(), picker.layers.maximum()) == (default_layers(tiny_bert4)[0], 3)
    assert picker.layers.value() == 2
    assert "the default keeps 2: half of an encoder's layers" in picker.layers.toolTip()
    assert "By default the copy keeps 2 of the 4 layers: half of an encoder's" in (
        picker.info.text()
    )
    assert not picker.info.isHidden()
    picker.layers.setValue(9)
    assert picker.layers.value() == 3  # capped: keeping all 4 would be no smaller copy

    picker.add_folder(tiny_causal)  # a decoder of 2 layers: two thirds, never all of them
    assert (picker.layers.value(), picker.layers.maximum()) == (1, 1)
    assert "two thirds of a text generator's layers" in picker.layers.toolTip()

    picker.set_entries([_smol_entry()], "generation")  # a catalogue decoder, chosen
    picker.select(str(_smol_entry().path))
    assert (picker.layers.value(), picker.layers.maximum()) == (20, 29)  # not 3, not 6
    assert "By default the copy keeps 20 of the 30 layers" in picker.info.text()
    picker.use_radio.setChecked(True)
    assert "By default the copy" not in picker.info.text()  # said only for a copy


def test_a_typed_value_stays_with_its_model(qtbot, tiny_bert4, tiny_causal):
    picker = _picker(qtbot)
    picker.derive_radio.setChecked(True)
    picker.add_folder(tiny_bert4)
    picker.layers.setValue(3)
    picker.select(str(tiny_bert4))  # picked again: nothing changes
    assert picker.layers.value() == 3
    picker.add_folder(tiny_causal)
    assert picker.layers.value() == 1
    picker.select(str(tiny_bert4))  # back to it: what was typed, not the default
    assert picker.layers.value() == 3
    picker.set_entries([], "classification")  # the catalogue look-up answering
    assert (picker.current_path(), picker.layers.value()) == (str(tiny_bert4), 3)
    assert picker.values() == {"student": None, "derive": str(tiny_bert4), "layers": 3}


def test_an_unreadable_folder_leaves_the_range_open(qtbot, tmp_path):
    picker = _picker(qtbot)
    picker.add_folder(tmp_path / "no-config-here")  # the run will say what is wrong
    assert picker.layers.maximum() == 128
    assert picker.layers.toolTip() == "How many of the larger model's layers the student keeps"


def test_a_restored_config_keeps_its_stored_layers(qtbot, tiny_bert4):
    picker = _picker(qtbot)
    picker.set_values(TrainConfig(derive=str(tiny_bert4), layers=3))
    assert (picker.derive_radio.isChecked(), picker.layers.value()) == (True, 3)
    fresh = _picker(qtbot)
    fresh.set_values(TrainConfig(derive=str(tiny_bert4)))  # the CLI's default was kept
    assert fresh.layers.value() == 2


def _project(tmp_path: Path, *, task: str = "classification") -> Path:
    path = tmp_path / "train"
    labels = LABELS if task == "classification" else ()
    project = Project.create(path, task=task, labels=labels, floor=QualityFloor(0.5))
    fill_project(project, 40, generation=task == "generation")
    project.close()
    return path


def _page(qtbot, context) -> TrainPage:
    page = TrainPage(context)
    qtbot.addWidget(page)
    page.show()
    return page


def test_reopening_a_project_keeps_the_layers_of_its_last_run(
    qtbot, app_context, tmp_path, tiny_bert4, monkeypatch
):
    monkeypatch.setattr("core.train.catalogue.default_roots", lambda: [])
    path = _project(tmp_path)
    with Project.open(path) as project:
        run_id = create_run(project, TRAIN, TrainConfig(derive=str(tiny_bert4), layers=3))
        mark_finished(project, run_id, "failed", error_class="TrainError")
    app_context.open_project(path)
    page = _page(qtbot, app_context)
    assert page.lookups_finished(60_000)
    qtbot.wait(50)  # the look-ups' answers are delivered through the event loop
    assert page.student.current_path() == str(tiny_bert4)
    assert page.student.layers.value() == 3  # not the default 2


# -- rare-class augmentation ------------------------------------------------------------------


def test_rare_class_copies_set_the_config_field_and_round_trip(qtbot):
    form = TrainSettingsForm()
    qtbot.addWidget(form)
    assert form.augment_rare.value() == 0
    assert form.augment_rare.text() == "Off"
    assert form.augment_rare.maximum() == 10
    assert form.augment_rare.accessibleName() == "Extra teacher-labelled copies of rare-class rows"
    tip = form.augment_rare.toolTip()
    assert "local classifier teacher" in tip
    assert "never stored" in tip
    assert "75%" in tip
    assert TrainConfig(student="x", **form.values()).augment_rare == 0
    form.augment_rare.setValue(3)
    assert TrainConfig(student="x", **form.values()).augment_rare == 3
    form.set_values(TrainConfig(student="x", augment_rare=5))
    assert form.augment_rare.value() == 5
    assert form.values()["augment_rare"] == 5
    form.set_values(TrainConfig(student="x"))
    assert form.values()["augment_rare"] == 0


def test_a_disabled_control_says_why_and_asks_for_no_copies(qtbot):
    form = TrainSettingsForm()
    qtbot.addWidget(form)
    form.augment_rare.setValue(4)
    form.set_augment_unavailable("rare-class copies apply to classification projects only")
    assert not form.augment_rare.isEnabled()
    assert form.augment_rare.toolTip().startswith(
        "Not available: rare-class copies apply to classification projects only. Off by default."
    )
    assert form.values()["augment_rare"] == 0  # the core would refuse it
    form.set_augment_unavailable(None)
    assert form.augment_rare.isEnabled()
    assert form.values()["augment_rare"] == 4


def test_the_page_disables_copies_for_generation_and_non_local_teachers(
    qtbot, app_context, tmp_path
):
    generation = _project(tmp_path / "g", task="generation")
    app_context.open_project(generation)
    page = _page(qtbot, app_context)
    assert not page.settings.augment_rare.isEnabled()
    assert "classification projects only" in page.settings.augment_rare.toolTip()

    classification = _project(tmp_path / "c")  # taught by a local classifier (hf:…)
    app_context.open_project(classification)
    page.refresh()
    assert page.settings.augment_rare.isEnabled()
    with Project.open(classification) as project, project.store.transaction() as conn:
        conn.execute("UPDATE teacher_outputs SET teacher_id = 'labels'")
    page.refresh()
    assert not page.settings.augment_rare.isEnabled()
    assert "need a local classifier teacher" in page.settings.augment_rare.toolTip()


def test_the_copies_asked_reach_the_run_the_page_starts(
    qtbot, app_context, tmp_path, tiny_classifier
):
    path = _project(tmp_path)
    app_context.open_project(path)
    page = _page(qtbot, app_context)
    page.student.add_folder(tiny_classifier)
    page.settings.augment_rare.setValue(2)
    page.settings.device.setCurrentIndex(page.settings.device.findData("cpu"))
    worker = page.start_training()
    assert worker is not None
    assert worker.run_id is not None
    with Project.open(path) as project:
        stored = run_config(project, TRAIN, get_run(project, worker.run_id))
    assert stored.augment_rare == 2
    worker.cancel()
    worker.cancel()  # force stop: this test only needs the run to start
    assert worker.wait_finished(RUN_TIMEOUT_MS)
