"""The export stage: bundle contents, parity, lineage, the two gates and atomic writes."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from export_helpers import read_manifest, student_dir

from core.errors import DiskFullError, ExportRefusedError, OutputExistsError, StageCancelled
from core.export import bundle as bundle_module
from core.export import bundle_format as fmt
from core.export.config import ExportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT
from core.project import Project
from core.reporter import NullReporter, RecordingReporter
from core.store import audit

DESIGN_FILES = {
    "manifest.json",
    "model.onnx",
    "labels.json",
    "tokenizer.json",
    "MODEL_CARD.md",
    "report.html",
    "config.json",
    "probes.json",
}


def test_bundle_holds_the_design_files_and_an_int8_model_with_parity(exported):
    names = {p.relative_to(exported.bundle).as_posix() for p in exported.bundle.rglob("*")}
    assert names >= DESIGN_FILES
    name = read_manifest(exported.bundle)["triton"]["model_name"]
    assert {f"triton/{name}/config.pbtxt", f"triton/{name}/1/model.onnx"} <= names
    result = exported.result
    assert result["quantize"] == "int8"
    assert result["exporter"] == "optimum main_export"
    assert result["model_bytes"] < result["fp32_bytes"] / 1.5
    parity = {v["variant"]: v for v in result["parity"]["variants"]}
    assert result["parity"]["n"] == 27
    assert result["parity"]["reference"] == "human"
    assert parity["onnx_fp32"]["agreement"] == 1.0
    assert parity["onnx_fp32"]["max_abs_diff"] < 1e-4
    assert parity["onnx_int8"]["agreement"] >= 0.99
    assert 0 < parity["onnx_int8"]["max_abs_diff"] < 0.5
    assert parity["onnx_int8"]["metric_delta"] is not None


def test_manifest_lists_every_file_with_its_checksum(exported):
    manifest = read_manifest(exported.bundle)
    on_disk = {
        p.relative_to(exported.bundle).as_posix()
        for p in exported.bundle.rglob("*")
        if p.is_file() and p.name not in ("manifest.json", "signature.json", "SIGN-OFF.md")
    }
    assert set(manifest["files"]) == on_disk
    for name, entry in manifest["files"].items():
        data = (exported.bundle / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert fmt.schema_problems(manifest) == []
    digest = hashlib.sha256((exported.bundle / "manifest.json").read_bytes()).hexdigest()
    assert exported.result["manifest_sha256"] == digest


def test_manifest_carries_lineage_calibration_quality_and_the_audit_head(exported):
    manifest = read_manifest(exported.bundle)
    with Project.open(exported.project) as project:
        hashes = {row["hash"] for row in project.store.query("SELECT hash FROM audit")}
        finish = next(e for e in audit.entries(project.store, 500) if e.action == "export.finish")
        calibration = json.loads((student_dir(project) / "calibration.json").read_text())
    assert manifest["audit_head"] in hashes
    assert finish.details["manifest_sha256"] == exported.result["manifest_sha256"]
    assert manifest["calibration"]["temperature"] == pytest.approx(calibration["temperature"])
    assert manifest["quality"]["verdict"] == "passed"
    assert manifest["quality"]["floor"]["min_retention"] == 0.5
    assert manifest["metrics"]["test"]["student.macro_f1"] > 0
    lineage = manifest["lineage"]
    assert lineage["teacher"]["teacher_id"].startswith("hf:big-teacher")
    assert lineage["source_data"][0]["sha256"]
    assert lineage["anonymization"]["records_anonymized"] == exported.rows
    assert manifest["model"]["quantization"]["per_channel"] is True
    assert manifest["model"]["quantization"]["target_isa"] in ("avx2", "avx512", "avx512_vnni")
    assert manifest["model"]["quantization"]["pre_process"]["skip_symbolic_shape"] is True
    assert {"onnxruntime", "optimum", "torch"} <= set(manifest["versions"])
    assert manifest["exported_by"] == audit.os_user()
    assert manifest["exported_at"]
    card = (exported.bundle / "MODEL_CARD.md").read_text()
    for heading in (
        "Intended use",
        "Anonymization",
        "Edge-case set",
        "Calibration",
        "Limitations and key assumptions",
        "Export and parity",
    ):
        assert f"## {heading}" in card or f"### {heading}" in card


def test_refused_without_a_passing_evaluation_then_override_is_audited(
    unevaluated_project, tmp_path
):
    out = tmp_path / "bundle"
    with pytest.raises(ExportRefusedError, match="not been evaluated"):
        run_stage(unevaluated_project, EXPORT, ExportConfig(out=out), reporter=NullReporter())
    assert not out.exists()
    config = ExportConfig(out=out, override_floor="pilot approved by the model-risk board")
    result = run_stage(unevaluated_project, EXPORT, config, reporter=NullReporter())
    assert result.floor_overridden
    assert result.verdict == "none"
    entry = next(
        e for e in audit.entries(unevaluated_project.store) if e.action == "export.override_floor"
    )
    assert entry.details["reason"] == "pilot approved by the model-risk board"
    manifest = read_manifest(out)
    assert manifest["quality"]["override"]["reason"] == config.override_floor
    assert "exported under an audited override" in (out / "MODEL_CARD.md").read_text()


def test_a_failed_evaluation_is_refused(unevaluated_project, tmp_path):
    from export_helpers import fake_evaluate_run

    fake_evaluate_run(unevaluated_project, passed=False)
    with pytest.raises(ExportRefusedError, match="FAILED the quality floor"):
        run_stage(
            unevaluated_project, EXPORT, ExportConfig(out=tmp_path / "b"), reporter=NullReporter()
        )


def test_low_int8_agreement_is_refused_unless_overridden(fresh_project, tmp_path, monkeypatch):
    from core.export import build

    real = build.parity.compare

    def worse(reference, variants, inputs, labels, batched=None):
        variants = dict(variants)
        flipped = variants["onnx_int8"].copy()
        flipped[:3] = np.roll(flipped[:3], 1, axis=1)  # three inputs now pick another class
        variants["onnx_int8"] = flipped
        return real(reference, variants, inputs, labels, batched)

    monkeypatch.setattr(build.parity, "compare", worse)
    out = tmp_path / "bundle"
    with pytest.raises(ExportRefusedError, match="below the 99% threshold"):
        run_stage(fresh_project, EXPORT, ExportConfig(out=out), reporter=NullReporter())
    assert not out.exists()
    config = ExportConfig(out=out, override_parity="INT8 needed for the edge box")
    result = run_stage(fresh_project, EXPORT, config, reporter=NullReporter())
    assert result.parity_overridden
    assert result.parity.variant("onnx_int8").agreement < 0.99
    actions = [e.action for e in audit.entries(fresh_project.store)]
    assert "export.override_parity" in actions
    assert read_manifest(out)["parity"]["override"]["reason"] == config.override_parity


def test_an_existing_output_is_refused_unless_forced(fresh_project, tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("someone else's file")
    with pytest.raises(OutputExistsError, match="already exists"):
        run_stage(fresh_project, EXPORT, ExportConfig(out=out), reporter=NullReporter())
    assert (out / "keep.txt").exists()
    run_stage(fresh_project, EXPORT, ExportConfig(out=out, force=True), reporter=NullReporter())
    assert not (out / "keep.txt").exists()
    assert (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "fresh"]


def test_a_disk_that_fills_mid_export_leaves_no_half_bundle(fresh_project, tmp_path, monkeypatch):
    copies = {"n": 0}
    real_copy = bundle_module.shutil.copyfile

    def filling(src, dst, *args, **kwargs):
        copies["n"] += 1
        if copies["n"] == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(bundle_module.shutil, "copyfile", filling)
    out_dir = tmp_path / "out"
    with pytest.raises(DiskFullError):
        run_stage(
            fresh_project, EXPORT, ExportConfig(out=out_dir / "bundle"), reporter=NullReporter()
        )
    assert list(out_dir.iterdir()) == []
    work = [p for p in fresh_project.runs_dir.rglob("export-work-*")]
    assert work == []


def test_a_really_full_disk_leaves_nothing(fresh_project, tmp_path):
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("this machine does not allow mounts")
    try:
        with pytest.raises(DiskFullError):
            run_stage(fresh_project, EXPORT, ExportConfig(out=small / "b"), reporter=NullReporter())
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_cancel_writes_nothing(fresh_project, tmp_path):
    out = tmp_path / "bundle"
    with pytest.raises(StageCancelled):
        run_stage(
            fresh_project, EXPORT, ExportConfig(out=out), reporter=RecordingReporter(cancel_after=2)
        )
    assert not out.exists()
    assert list(fresh_project.runs_dir.rglob("export-work-*")) == []


def test_optimum_failure_falls_back_to_torch_onnx_with_the_reason(
    fresh_project, tmp_path, monkeypatch
):
    from core.export import onnx_export

    def unsupported(*args, **kwargs):
        raise ValueError("bert is not supported yet with this exporter")

    monkeypatch.setattr(onnx_export, "_optimum", unsupported)
    out = tmp_path / "bundle"
    result = run_stage(fresh_project, EXPORT, ExportConfig(out=out), reporter=NullReporter())
    assert result.exporter == "torch.onnx.export"
    assert "not supported" in (result.fallback_reason or "")
    manifest = read_manifest(out)
    assert manifest["model"]["fallback_reason"] == result.fallback_reason
    assert result.parity.variant("onnx_fp32").max_abs_diff < 1e-4
    assert result.parity.variant("onnx_int8").agreement >= 0.99


def test_zip_bundle_and_outputs_inside_the_project_refused(fresh_project, tmp_path):
    from core.errors import ExportError
    from core.export.verify import verify_bundle

    out = tmp_path / "bundle.zip"
    result = run_stage(
        fresh_project, EXPORT, ExportConfig(out=out, format="zip"), reporter=NullReporter()
    )
    assert out.is_file()
    assert result.bundle_bytes == out.stat().st_size
    assert verify_bundle(out).files_checked == result.files - 2  # the manifest, its signature
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    inside = fresh_project.runs_dir / "bundle"
    with pytest.raises(ExportError, match="project folder"):
        run_stage(fresh_project, EXPORT, ExportConfig(out=inside), reporter=NullReporter())
    with pytest.raises(ExportError, match="project folder"):
        run_stage(
            fresh_project,
            EXPORT,
            ExportConfig(out=Path(fresh_project.path) / "stillroom.db", force=True),
            reporter=NullReporter(),
        )
    with pytest.raises(ExportError, match="project folder"):
        run_stage(
            fresh_project,
            EXPORT,
            ExportConfig(out=Path(fresh_project.path), force=True),
            reporter=NullReporter(),
        )
    shelved = fresh_project.path / "exports" / "b"
    run_stage(fresh_project, EXPORT, ExportConfig(out=shelved, probes=0), reporter=NullReporter())
    assert verify_bundle(shelved).probes_checked == 0


def test_the_export_command_records_a_run_and_exits_2_on_an_existing_output(
    fresh_project, tmp_path, capsys
):
    from core.cli import main
    from core.jobs.runs import list_runs

    out = tmp_path / "cli-bundle"
    assert main(["export", str(fresh_project.path), "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["bundle"] == str(out)
    run = list_runs(fresh_project, "export")[-1]
    assert run.status == "succeeded"
    names = {r["name"] for r in fresh_project.store.query(
        "SELECT name FROM metrics WHERE run_id = ?", (run.id,))}  # fmt: skip
    assert {"onnx_int8.agreement", "onnx_fp32.max_abs_diff", "model_bytes"} <= names
    assert main(["export", str(fresh_project.path), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
