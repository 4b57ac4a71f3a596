"""``stillroom bundle verify``: checksums, schema, unsafe zips, Triton config, self-test."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import pytest
from export_helpers import copy_bundle, project_key, read_manifest, resign

from core.cli import main
from core.errors import BundleError, BundleVerifyError
from core.export.triton import DTYPES, parse_pbtxt
from core.export.verify import verify_bundle


def test_a_fresh_bundle_verifies(exported, capsys):
    report = verify_bundle(exported.bundle)
    assert report.files_checked == len(read_manifest(exported.bundle)["files"])
    assert report.probes_checked == 8
    assert report.targets_checked == (
        "the Triton config matches the graph",
        "the KServe manifests name the bundle's model and runtime",
    )
    assert main(["bundle", "verify", str(exported.bundle)]) == 0
    assert "bundle OK" in capsys.readouterr().out


@pytest.mark.parametrize("victim", ["tokenizer.json", "model.onnx", "labels.json"])
def test_a_tampered_file_is_named(exported, tmp_path, capsys, victim):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    path = bundle / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size: only the checksum can tell
    path.write_bytes(bytes(data))
    with pytest.raises(BundleVerifyError) as info:
        verify_bundle(bundle)
    assert info.value.file == victim
    assert "checksum" in info.value.problem
    assert main(["bundle", "verify", str(bundle)]) == 1
    assert victim in capsys.readouterr().err


def test_an_added_or_missing_file_is_named(exported, tmp_path):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    (bundle / "extra.onnx").write_bytes(b"not listed")
    with pytest.raises(BundleVerifyError, match="not listed") as info:
        verify_bundle(bundle)
    assert info.value.file == "extra.onnx"
    (bundle / "extra.onnx").unlink()
    (bundle / "MODEL_CARD.md").unlink()
    with pytest.raises(BundleVerifyError, match="missing") as info:
        verify_bundle(bundle)
    assert info.value.file == "MODEL_CARD.md"


def test_a_manifest_that_breaks_the_schema_is_reported(exported, tmp_path):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    manifest = read_manifest(bundle)
    del manifest["calibration"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleVerifyError, match="calibration is missing") as info:
        verify_bundle(bundle)
    assert info.value.file == "manifest.json"


def test_changed_probe_expectations_fail_the_self_test(exported, tmp_path):
    """A consistent, re-checksummed and re-signed bundle whose model no longer gives its
    recorded outputs."""
    import hashlib

    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    probes = json.loads((bundle / "probes.json").read_text())
    probes["inputs"][0]["probabilities"] = probes["inputs"][0]["probabilities"][::-1]
    probes["inputs"][0]["label"] = "something else"
    (bundle / "probes.json").write_text(json.dumps(probes))
    manifest = read_manifest(bundle)
    data = (bundle / "probes.json").read_bytes()
    manifest["files"]["probes.json"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    resign(bundle, project_key(exported.project))
    with pytest.raises(BundleVerifyError, match="self-test failed on probe 0") as info:
        verify_bundle(bundle)
    assert info.value.file == "model.onnx"


def _zip_with(path, name: str, *, link: bool = False):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", "{}")
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd" if link else "payload")
    return path


@pytest.mark.parametrize(
    ("entry", "link", "why"),
    [
        ("../escaped.txt", False, "'..'"),
        ("triton/../../escaped.txt", False, "'..'"),
        ("/tmp/absolute.txt", False, "absolute"),
        ("C:/windows.txt", False, "absolute"),
        ("tokenizer.json", True, "symbolic link"),
    ],
)
def test_unsafe_zip_entries_are_rejected_before_extraction(tmp_path, capsys, entry, link, why):
    archive = _zip_with(tmp_path / "evil.zip", entry, link=link)
    with pytest.raises(BundleVerifyError, match=why) as info:
        verify_bundle(archive)
    assert info.value.file == entry
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert main(["bundle", "verify", str(archive)]) == 1
    assert entry in capsys.readouterr().err


def test_not_a_bundle_is_a_user_error(tmp_path, capsys):
    with pytest.raises(BundleError):
        verify_bundle(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert main(["bundle", "verify", str(tmp_path / "empty")]) == 2
    assert "not a Stillroom bundle" in capsys.readouterr().err


def test_the_triton_config_is_well_formed_and_matches_the_graph(exported):
    import onnx

    manifest = read_manifest(exported.bundle)
    name = manifest["triton"]["model_name"]
    folder = exported.bundle / "triton" / name
    config = parse_pbtxt((folder / "config.pbtxt").read_text())
    assert config["name"] == name
    assert config["backend"] == "onnxruntime"
    assert config["max_batch_size"] == 64
    assert (folder / "1" / "model.onnx").read_bytes() == (
        exported.bundle / "model.onnx"
    ).read_bytes()
    graph = onnx.load(str(folder / "1" / "model.onnx"), load_external_data=False).graph
    onnx_types = {1: "TYPE_FP32", 7: "TYPE_INT64", 10: "TYPE_FP16", 6: "TYPE_INT32"}
    for section, values in (("input", graph.input), ("output", graph.output)):
        declared = {t["name"]: t for t in config[section]}
        assert sorted(declared) == sorted(v.name for v in values)
        for value in values:
            tensor = value.type.tensor_type
            assert declared[value.name]["data_type"] == onnx_types[tensor.elem_type]
            dims = [d.dim_value if d.dim_value > 0 else -1 for d in tensor.shape.dim][1:]
            assert declared[value.name]["dims"] == dims
    assert set(DTYPES.values()) >= {t["data_type"] for t in config["input"]}


def test_parse_pbtxt_rejects_malformed_text():
    with pytest.raises(ValueError, match="missing"):
        parse_pbtxt('name: "x"\ninput [ { name: "a" ')
    with pytest.raises(ValueError, match="unexpected"):
        parse_pbtxt("name: : }")
    assert parse_pbtxt("a: 1 # comment\nb { c: [1, 2] }") == {"a": 1, "b": {"c": [1, 2]}}


def test_a_bundle_is_owner_only(exported):
    assert stat.S_IMODE(os.stat(exported.bundle).st_mode) == 0o700
