"""The Anonymize page against the real stage (pattern-only, so no spaCy model is loaded):
run, highlighted preview, counts, review list, cancel, inline errors, and no raw PII in any
widget afterwards."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from data_anonymize_checks import duplicate_mnemonics, settings_without_tooltip
from desktop_fixtures import run_stage_in_process
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QLabel,
    QLineEdit,
    QListView,
    QTextEdit,
    QWidget,
)

from core.anonymize.config import PATTERN_ONLY_WARNING
from core.project import Project
from desktop.pages.anonymize_page import AnonymizePage

LABELS = ("billing", "clinical", "other")


def pii_row(i: int) -> tuple[str, dict[str, str]]:
    values = {
        "email": f"jane.roe{i}@example.org",
        "phone": f"617-555-{1000 + i % 9000:04d}",
        "mrn": f"55{i:05d}21",
        "ssn": f"219-09-{1000 + i % 9000:04d}",
    }
    text = (
        f"Billing note {i}: call {values['phone']} or write to {values['email']} about "
        f"MRN: {values['mrn']} and SSN {values['ssn']}; the invoice was charged twice."
    )
    return text, values


def flagged_row(i: int) -> tuple[str, dict[str, str]]:
    """Almost nothing but identifiers: the stage flags it for review."""
    values = {"email": f"john.doe{i}@example.com", "phone": f"212-555-{2000 + i:04d}"}
    return f"{values['email']} {values['phone']}", values


def pii_project(tmp_path: Path, n: int, flagged: int = 0) -> tuple[Path, list[str]]:
    """A project with ``n`` PII-bearing records (plus ``flagged`` near-pure identifier ones)
    imported; returns it and every raw identifier value in it."""
    from core.data.importer import ImportConfig
    from core.jobs.registry import IMPORT
    from core.project import QualityFloor

    rows = [pii_row(i) for i in range(n)] + [flagged_row(i) for i in range(flagged)]
    source = tmp_path / "notes.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i, (text, _) in enumerate(rows):
            writer.writerow([text, LABELS[i % 3]])
    path = tmp_path / "pii-project"
    Project.create(path, task="classification", labels=LABELS, floor=QualityFloor(0.9)).close()
    config = ImportConfig(source=source, text_column="text", label_column="label")
    run_stage_in_process(path, IMPORT, config)
    return path, [value for _, values in rows for value in values.values()]


@pytest.fixture
def make_page(qtbot, app_context, monkeypatch):
    dialogs: list[tuple] = []
    monkeypatch.setattr("desktop.pages.base.show_error_dialog", lambda *args: dialogs.append(args))

    def make(project_dir: Path) -> AnonymizePage:
        app_context.open_project(project_dir)
        page = AnonymizePage(app_context)
        page.dialogs = dialogs
        qtbot.addWidget(page)
        page.resize(1280, 900)
        page.show()
        return page

    return make


def widget_texts(root: QWidget) -> list[str]:
    """Every string a user could see or a screen reader could read on ``root``."""
    texts = []
    for widget in [root, *root.findChildren(QWidget)]:
        texts += [widget.toolTip(), widget.accessibleName(), widget.accessibleDescription()]
        if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
            texts.append(widget.text())
        if isinstance(widget, QTextEdit):
            texts.append(widget.toPlainText())
        if isinstance(widget, QComboBox):
            texts += [widget.itemText(i) for i in range(widget.count())]
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model, top = widget.model(), QModelIndex()
            for row in range(model.rowCount(top)):
                columns = 1 if isinstance(widget, QListView) else model.columnCount(top)
                for column in range(columns):
                    index = model.index(row, column)
                    for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                        value = model.data(index, role)
                        if value is not None:
                            texts.append(str(value))
    return texts


def run_to_end(qtbot, page: AnonymizePage) -> None:
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.busy(), page.banner.message()
    qtbot.waitUntil(lambda: not page.busy(), timeout=120_000)


def test_a_pattern_only_run_shows_counts_highlights_and_flags_without_raw_pii(
    qtbot, make_page, tmp_path
):
    project_dir, raw_values = pii_project(tmp_path, 60, flagged=3)
    page = make_page(project_dir)
    assert page.run_button.isEnabled()
    page.pattern_mode.setChecked(True)
    assert page.pattern_warning.isVisible()
    run_to_end(qtbot, page)
    assert page.worker is not None
    assert page.worker.outcome == "succeeded", page.banner.message()
    assert page.banner.level() == "warning"
    assert "names and places NOT detected" in page.banner.message()
    assert page.dialogs == []
    counts = {
        page.results.counts.item(row, 0).text(): page.results.counts.item(row, 1).text()
        for row in range(page.results.counts.rowCount())
    }
    assert counts["EMAIL_ADDRESS"] == "63"
    assert counts["MEDICAL_RECORD_NUMBER"] == "60"
    assert "63 of 63 records anonymized" in page.results.overview.text()
    shown = page.results.preview.toPlainText()
    assert "Record #1" in shown
    assert "<EMAIL_ADDRESS_1>" in shown
    assert "EMAIL_ADDRESS" in page.results.legend.entities()
    assert page.results.flagged.count() == 3
    assert "identifiers" in page.results.reasons.text()
    page.show_next_records()
    assert "Record #5" in page.results.preview.toPlainText()
    texts = "\n".join(widget_texts(page))
    leaked = [value for value in raw_values if value in texts]
    assert leaked == []


def test_cancel_stops_a_running_anonymization_and_keeps_what_it_finished(
    qtbot, make_page, tmp_path
):
    project_dir, _ = pii_project(tmp_path, 1500)
    page = make_page(project_dir)
    page.pattern_mode.setChecked(True)
    page.batch_size = 16
    fractions: list[float] = []
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.worker is not None
    page.worker.progress.connect(lambda fraction, _: fractions.append(fraction))
    qtbot.waitUntil(lambda: any(f > 0 for f in fractions), timeout=120_000)
    qtbot.mouseClick(page.job_panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.busy(), timeout=60_000)
    assert page.worker.outcome == "cancelled"
    assert page.banner.level() == "info"
    assert "stopped" in page.banner.message()
    with Project.open(project_dir) as project:
        done = project.store.scalar("SELECT COUNT(*) FROM anonymized")
    assert 0 < done < 1500
    assert f"{done:,} of 1,500 records anonymized" in page.results.overview.text()
    assert "was stopped" in page.results.overview.text()
    assert page.run_button.isEnabled()


def test_nothing_to_look_for_is_an_inline_error_and_starts_no_run(make_page, tmp_path):
    project_dir, _ = pii_project(tmp_path, 5)
    page = make_page(project_dir)
    page.picker.set_entities(())
    page.start_anonymize()
    assert page.worker is None
    assert page.banner.level() == "error"
    assert "no entity type" in page.banner.message().lower()
    page.picker.set_entities(["PERSON", "LOCATION"])
    page.pattern_mode.setChecked(True)
    assert not page.picker.checks["PERSON"].isEnabled()
    assert "NOT detected" in page.picker.checks["PERSON"].toolTip()
    page.start_anonymize()
    assert page.worker is None
    assert page.banner.level() == "error"
    assert page.dialogs == []


def test_the_config_carries_operators_and_thresholds(make_page, tmp_path):
    project_dir, _ = pii_project(tmp_path, 5)
    page = make_page(project_dir)
    page.picker.default_operator.setCurrentIndex(page.picker.default_operator.findData("mask"))
    combo = page.picker.operators["EMAIL_ADDRESS"]
    combo.setCurrentIndex(combo.findData("hash"))
    page.threshold.setValue(0.6)
    page.safe_harbor.setChecked(False)
    config = page.config()
    assert config.operator == "mask"
    assert config.operators == (("EMAIL_ADDRESS", "hash"),)
    assert (config.score_threshold, config.safe_harbor, config.pattern_only) == (0.6, False, False)
    assert "PERSON" in config.resolved_entities()
    assert PATTERN_ONLY_WARNING.upper() in page.pattern_warning.text()
    assert all(check.toolTip() for check in page.picker.checks.values())


def test_every_setting_has_a_tooltip_and_every_mnemonic_is_unique(make_page, tmp_path):
    project_dir, _ = pii_project(tmp_path, 5)
    page = make_page(project_dir)
    assert settings_without_tooltip(page) == []
    assert duplicate_mnemonics(page) == []


def test_a_reopened_project_shows_the_last_runs_settings(make_page, tmp_path):
    from core.anonymize.config import AnonymizeConfig
    from core.jobs.registry import ANONYMIZE
    from core.jobs.runs import create_run, mark_finished

    project_dir, _ = pii_project(tmp_path, 5)
    config = AnonymizeConfig(
        entities=("PHONE_NUMBER", "EMAIL_ADDRESS"), operator="mask",
        operators=(("EMAIL_ADDRESS", "hash"),), pattern_only=True, safe_harbor=False,
        score_threshold=0.6, review_threshold=0.7,
    )  # fmt: skip
    with Project.open(project_dir) as project:
        run_id = create_run(project, ANONYMIZE, config)
        mark_finished(project, run_id, "cancelled")
    page = make_page(project_dir)
    assert page.config() == config
    assert "pattern-only: names and places NOT detected) was stopped" in (
        page.results.overview.text()
    )
