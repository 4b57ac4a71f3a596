"""Handing a bundle over: gate state, pre-flight, last export, per-file checks, instructions."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from core.errors import BundleError, ExportError, ExportRefusedError, OutputExistsError
from core.export.config import ExportConfig
from core.export.handoff import (
    check_bundle,
    gate_state,
    preflight,
    require_gate,
    serving_instructions,
)
from core.export.predict import predict
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT
from core.jobs.runs import latest
from core.project import Project, QualityFloor


def test_the_python_snippet_labels_like_stillroom_predict(exported):
    text = serving_instructions(exported.bundle)
    snippet = text.split("   bundle is on the server):\n", 1)[1]
    assert len(snippet.strip().splitlines()) <= 6
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(snippet, {})  # the user copies exactly this
    label, _ = printed.getvalue().split(" ", 1)
    expected = predict(exported.bundle, ["a sample request"]).predictions[0]
    assert label == expected.label


def test_the_triton_lines_name_the_bundles_model_folder(exported):
    text = serving_instructions(exported.bundle)
    assert "tritonserver --model-repository=/models" in text
    folder = next(p for p in (exported.bundle / "triton").iterdir())
    assert folder.name.startswith("stillroom_")
    assert f"scp -r {folder} SERVER:/models/" in text
    assert (folder / "config.pbtxt").is_file()
    assert (folder / "1" / "model.onnx").is_file()


def test_a_zipped_bundle_is_read_without_extracting_and_says_unzip(exported, tmp_path):
    archive = Path(shutil.make_archive(str(tmp_path / "bundle"), "zip", exported.bundle))
    text = serving_instructions(archive)
    assert text.startswith(f"The bundle is a zip: unzip it first\n     unzip {archive} -d ")
    assert f"scp -r {tmp_path / 'bundle'}/triton/stillroom_" in text
    assert not (tmp_path / "bundle").exists()
    (tmp_path / "broken.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    with pytest.raises(BundleError, match=r"no readable manifest\.json"):
        serving_instructions(tmp_path / "broken.zip")


def test_a_fresh_bundle_checks_every_file_ok(exported):
    check = check_bundle(exported.bundle)
    assert check.ok
    assert check.error is None
    assert all(f.ok and f.status == "OK" for f in check.files)
    assert len(check.files) == check.report.files_checked


def test_a_tampered_and_an_added_file_are_each_named(exported, tmp_path):
    bundle = shutil.copytree(exported.bundle, tmp_path / "copy")
    with open(bundle / "tokenizer.json", "a", encoding="utf-8") as handle:
        handle.write(" ")
    (bundle / "extra.txt").write_text("added later")
    check = check_bundle(bundle)
    assert not check.ok
    assert check.error.file in ("extra.txt", "tokenizer.json")
    statuses = {f.name: f.status for f in check.files}
    assert statuses["tokenizer.json"] == "size differs from the manifest"
    assert statuses["extra.txt"] == "not in the manifest (added after export)"
    assert statuses["model.onnx"] == "OK"


def test_not_a_bundle_is_a_user_error(tmp_path):
    with pytest.raises(BundleError):
        check_bundle(tmp_path)
    with pytest.raises(BundleError):
        serving_instructions(tmp_path / "missing")


def test_preflight_refuses_what_the_export_would_refuse_late(tmp_path):
    assert preflight(tmp_path / "new" / "bundle", False) == tmp_path / "new" / "bundle"
    with pytest.raises(OutputExistsError):
        preflight(tmp_path, False)
    assert preflight(tmp_path, True) == tmp_path
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="not writable"):
        preflight(blocker / "bundle", False)


def test_the_gate_before_and_after_an_evaluation(unevaluated_project, fresh_project):
    state = gate_state(unevaluated_project)
    assert state.verdict == "none"
    assert state.needs_override
    audited = unevaluated_project.store.scalar("SELECT COUNT(*) FROM audit")
    with pytest.raises(ExportRefusedError, match="has not been evaluated"):
        require_gate(unevaluated_project, None)
    require_gate(unevaluated_project, "signed off by the model-risk board")
    # The pre-check audits nothing: the export run that uses the override does.
    assert unevaluated_project.store.scalar("SELECT COUNT(*) FROM audit") == audited
    assert gate_state(fresh_project).verdict == "passed"
    require_gate(fresh_project, None)


def test_no_student_is_its_own_state(tmp_path):
    floor = QualityFloor(0.9)
    project = Project.create(
        tmp_path / "empty", task="classification", labels=("a", "b"), floor=floor
    )
    with project:
        assert gate_state(project).verdict == "no_student"
        with pytest.raises(ExportError, match="no trained student"):
            require_gate(project, "reason")
        assert latest(project, EXPORT) is None


def test_the_last_export_is_read_back(exported):
    with Project.open(exported.project) as project:
        last = latest(project, EXPORT)
    assert last is not None
    assert last.result.bundle == exported.bundle
    assert last.result.bundle.exists()
    assert last.result.parity.n > 0


def test_a_copied_project_hands_over_its_own_bundle(fresh_project, tmp_path):
    """A project archived to another folder, the original gone: everything reads the copy."""
    run_stage(fresh_project, EXPORT, ExportConfig(out=fresh_project.path / "exports" / "b"))
    original = fresh_project.path
    fresh_project.close()
    copy = shutil.copytree(original, tmp_path / "archived")
    shutil.rmtree(original)
    with Project.open(copy) as project:
        last = latest(project, EXPORT)
        gate = gate_state(project)
    assert last is not None
    assert last.result.bundle == copy / "exports" / "b"
    check = check_bundle(last.result.bundle)
    assert check.ok
    assert check.report.bundle == copy / "exports" / "b"
    assert f"scp -r {copy}/exports/b/triton/" in serving_instructions(last.result.bundle)
    assert str(original) not in serving_instructions(last.result.bundle)
    assert gate.verdict == "passed"
