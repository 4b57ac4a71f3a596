"""Serving targets are pluggable: a registered target is written, described in the manifest,
checked by ``bundle verify`` and shown in the deploy steps; bundles made before it existed
still verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from export_helpers import copy_bundle, read_manifest

from core.errors import BundleVerifyError
from core.export import targets
from core.export.config import ExportConfig
from core.export.handoff import serving_instructions
from core.export.serving import Serving, Target
from core.export.verify import verify_bundle
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT


def _section(serving: Serving) -> dict[str, Any]:
    return {"file": f"echo/{serving.name}.json", "inputs": [t.name for t in serving.inputs]}


def _write(root: Path, serving: Serving, section: dict[str, Any]) -> None:
    (root / "echo").mkdir()
    (root / section["file"]).write_text(json.dumps({"batch": serving.max_batch_size}))


def _check(root: Path, manifest: dict[str, Any]) -> None:
    file = manifest["echo"]["file"]
    if json.loads((root / file).read_text())["batch"] != manifest["triton"]["max_batch_size"]:
        raise BundleVerifyError(file, "another batch size than the Triton config")


ECHO = Target(
    key="echo", title="Echo server", section=_section, write=_write, check=_check,
    checked="the echo file fits", instructions=lambda bundle, m: [f"echo {m['echo']['file']}"],
)  # fmt: skip


def test_a_registered_target_is_written_checked_and_shown(fresh_project, tmp_path, monkeypatch):
    monkeypatch.setattr(targets, "TARGETS", (*targets.TARGETS, ECHO))
    out = tmp_path / "bundle"
    run_stage(fresh_project, EXPORT, ExportConfig(out=out, max_batch_size=16))
    manifest = read_manifest(out)
    name = manifest["name"]
    assert manifest["echo"] == {"file": f"echo/{name}.json", "inputs": ["input_ids",
                                "attention_mask", "token_type_ids"]}  # fmt: skip
    assert f"echo/{name}.json" in manifest["files"]
    report = verify_bundle(out)
    assert report.targets_checked == (
        "the Triton config matches the graph",
        "the KServe manifests name the bundle's model and runtime",
        "the echo file fits",
    )
    assert f"echo echo/{name}.json" in serving_instructions(out)
    changed = copy_bundle(out, tmp_path / "changed")
    (changed / f"echo/{name}.json").write_text(json.dumps({"batch": 61}))  # same size
    with pytest.raises(BundleVerifyError, match="checksum"):  # its file is signed like any
        verify_bundle(changed)


def test_a_bundle_made_before_a_target_existed_still_verifies(exported, monkeypatch):
    monkeypatch.setattr(targets, "TARGETS", (*targets.TARGETS, ECHO))
    report = verify_bundle(exported.bundle)
    assert report.targets_checked == (
        "the Triton config matches the graph",
        "the KServe manifests name the bundle's model and runtime",
    )
    assert "echo" not in serving_instructions(exported.bundle)
