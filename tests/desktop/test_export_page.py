"""The export page driven against the real export stage and bundle verifier (tiny student)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "export"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "teacher"))

from evaluate_helpers import build_trained_student, cached
from export_helpers import build_project, fake_evaluate_run

from core.export.config import ExportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT
from core.project import Project
from core.store import audit
from desktop.pages import export_page as export_module
from desktop.pages.export_page import ExportPage


@pytest.fixture(scope="session")
def trained_student() -> Path:
    return cached("tiny-student", build_trained_student)


def project_with(tmp_path: Path, student: Path, *, evaluation: str | None) -> Path:
    """A project with a trained student and a faked evaluation (``passed``/``failed``/None)."""
    with build_project(tmp_path, student, name="exporting", rows=60) as project:
        if evaluation is not None:
            fake_evaluate_run(project, passed=evaluation == "passed")
        return project.path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_student) -> tuple[Path, Path]:
    """A project whose bundle was exported before the window opened (in process)."""
    root = tmp_path_factory.mktemp("exported-page")
    project = project_with(root, trained_student, evaluation="passed")
    bundle = root / "bundle"
    with Project.open(project) as opened:
        run_stage(opened, EXPORT, ExportConfig(out=bundle))
    return project, bundle


@pytest.fixture
def page(qtbot, app_context):
    widget = ExportPage(app_context)
    qtbot.addWidget(widget)
    widget.resize(1100, 1000)
    widget.show()
    return widget


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_export_through_the_page_then_verify(qtbot, page, tmp_path, trained_student):
    page.context.open_project(project_with(tmp_path, trained_student, evaluation="passed"))
    assert "passed its evaluation" in page.gate_label.text()
    assert page.override_reason.isHidden()
    assert page.export_button.text() == "E&xport the bundle"
    out = tmp_path / "out" / "bundle"
    page.out_edit.setText(str(out))
    click(qtbot, page.export_button)
    assert page.busy(), page.banner.message()
    assert page.worker.wait_finished(180_000)
    assert page.worker.outcome == "succeeded", page.banner.message()
    qtbot.waitUntil(lambda: not page.panel.isHidden())
    panel = page.panel
    assert panel.path_edit.text() == str(out)
    assert (out / "manifest.json").is_file()
    variants = [panel.parity_table.item(i, 0).text() for i in range(panel.parity_table.rowCount())]
    assert variants == ["ONNX fp32", "ONNX INT8 (shipped)"]
    assert panel.parity_table.item(1, 1).text().endswith("%")
    text = panel.instructions.toPlainText()
    assert "tritonserver --model-repository=/models" in text
    assert f"{out}/triton/stillroom_exporting" in text
    assert f"stillroom predict {out}" in text
    click(qtbot, panel.copy_instructions_button)
    assert QGuiApplication.clipboard().text() == text
    click(qtbot, panel.verify_button)
    assert page.banner.level() == "info"
    assert page.banner.message().startswith("Bundle OK")
    assert "signature is valid (key sha256:" in page.banner.message()
    statuses = panel.statuses()
    assert set(statuses.values()) == {"OK"}
    assert {"model.onnx", "labels.json", "triton/stillroom_exporting/1/model.onnx"} <= set(statuses)


def test_a_tampered_file_is_named_inline(qtbot, page, exported):
    project, bundle = exported
    page.context.open_project(project)  # the last export shows without exporting again
    assert page.panel.path_edit.text() == str(bundle)
    victim = bundle / "labels.json"
    original = victim.read_bytes()
    try:
        victim.write_bytes(original.replace(b"billing", b"bi11ing"))
        click(qtbot, page.panel.verify_button)
    finally:
        victim.write_bytes(original)
    assert page.banner.level() == "error"
    assert "labels.json" in page.banner.message()
    assert "checksum" in page.banner.message()
    assert page.banner.hint()
    statuses = page.panel.statuses()
    assert statuses["labels.json"] == "checksum differs from the manifest"
    assert statuses["model.onnx"] == "OK"
    assert "FAILED" in page.panel.verify_status.text()


def test_an_edited_manifest_fails_on_its_signature_inline(qtbot, page, exported):
    project, bundle = exported
    page.context.open_project(project)
    manifest = bundle / "manifest.json"
    original = manifest.read_bytes()
    try:
        manifest.write_bytes(original.replace(b'"verdict": "passed"', b'"verdict": "PASSED"'))
        assert manifest.read_bytes() != original
        click(qtbot, page.panel.verify_button)
    finally:
        manifest.write_bytes(original)
    assert page.banner.level() == "error"
    assert "signature does not match" in page.banner.message()
    assert "FAILED" in page.panel.verify_status.text()


def test_copy_path_and_open_folder(qtbot, page, exported, monkeypatch):
    project, bundle = exported
    opened = []
    monkeypatch.setattr(export_module, "open_url", lambda url: opened.append(url) or True)
    page.context.open_project(project)
    click(qtbot, page.panel.copy_path_button)
    assert QGuiApplication.clipboard().text() == str(bundle)
    click(qtbot, page.panel.open_folder_button)
    assert [url.toLocalFile() for url in opened] == [str(bundle)]


def test_export_before_evaluate_is_refused_inline(qtbot, page, tmp_path, trained_student):
    page.context.open_project(project_with(tmp_path, trained_student, evaluation=None))
    assert "Needs attention" in page.gate_label.text()
    assert "not been evaluated" in page.gate_label.text()
    # The main action says what it does: an override, audited, with a reason.
    assert page.export_button.text() == "E&xport anyway (audited override)"
    assert not page.override_reason.isHidden()
    page.out_edit.setText(str(tmp_path / "bundle"))
    click(qtbot, page.export_button)
    assert page.worker is None  # refused before any work: no reason given
    assert page.banner.level() == "error"
    assert page.banner.message() == "An override needs a reason."
    assert "reason field" in page.banner.hint()


def test_export_anyway_ships_a_failed_student_with_the_audited_reason(
    qtbot, page, tmp_path, trained_student
):
    page.context.open_project(project_with(tmp_path, trained_student, evaluation="failed"))
    page.out_edit.setText(str(tmp_path / "bundle"))
    page.override_reason.setText("pilot on ten cases, approved by the clinical lead")
    page.card_form.owner.setText("Triage analytics")
    page.card_form.definitions.setPlainText("billing: about money owed or paid\n")
    click(qtbot, page.export_button)
    assert page.worker.wait_finished(180_000)
    assert page.worker.outcome == "succeeded", page.banner.message()
    with page.context.project() as project:
        entry = next(e for e in audit.entries(project.store) if e.action == "export.override_floor")
    assert entry.details["reason"] == "pilot on ten cases, approved by the clinical lead"
    card = (tmp_path / "bundle" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "exported under an audited override" in card
    assert "approved by the clinical lead" in card
    assert "| Owner | Triage analytics |" in card
    assert "| billing | about money owed or paid |" in card


def test_a_failed_evaluation_names_its_reason(page, tmp_path, trained_student):
    page.context.open_project(project_with(tmp_path, trained_student, evaluation="failed"))
    assert "FAILED" in page.gate_label.text()
    assert "retention 0.4000 is below the floor 0.5" in page.gate_label.text()
    assert not page.override_reason.isHidden()
    assert page.export_button.text() == "E&xport anyway (audited override)"
    assert "7a1f16" in page.gate_label.styleSheet()  # red: needs attention


def test_an_output_folder_that_cannot_be_written_is_an_inline_error(
    qtbot, page, tmp_path, trained_student
):
    page.context.open_project(project_with(tmp_path, trained_student, evaluation="passed"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    page.out_edit.setText(str(blocker / "bundle"))
    click(qtbot, page.export_button)
    assert page.worker is None
    assert page.banner.level() == "error"
    assert "not writable" in page.banner.message()
    existing = tmp_path / "existing"
    existing.mkdir()
    page.out_edit.setText(str(existing))
    click(qtbot, page.export_button)
    assert page.worker is None
    assert "already exists" in page.banner.message()


def test_browse_puts_the_bundle_in_the_chosen_folder(page, tmp_path, monkeypatch, new_project):
    page.context.open_project(new_project)
    assert page.out_edit.text().startswith(str(new_project / "exports" / "bundle-"))
    name = Path(page.out_edit.text()).name
    monkeypatch.setattr(export_module, "pick_folder", lambda parent, start: str(tmp_path))
    page.choose_output_folder()
    assert page.out_edit.text() == str(tmp_path / name)
    assert "no trained student" in page.gate_label.text()
    assert not page.export_button.isEnabled()


def test_a_copied_project_shows_and_verifies_its_own_bundle(qtbot, page, tmp_path, trained_student):
    original = project_with(tmp_path / "first", trained_student, evaluation="passed")
    with Project.open(original) as opened:
        run_stage(opened, EXPORT, ExportConfig(out=original / "exports" / "b"))
    copy = shutil.copytree(original, tmp_path / "archived")
    shutil.rmtree(original)
    page.context.open_project(copy)
    assert page.panel.path_edit.text() == str(copy / "exports" / "b")
    assert page.panel.warnings.isHidden()
    assert f"{copy}/exports/b/triton/" in page.panel.instructions.toPlainText()
    click(qtbot, page.panel.verify_button)
    assert page.banner.level() == "info"
    assert page.banner.message().startswith("Bundle OK")
    assert "passed its evaluation" in page.gate_label.text()
