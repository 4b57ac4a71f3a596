"""The manifest's Ed25519 signature: ``bundle verify [--key]``, ``predict``, the signing key.

The attacks are the ones the checksums alone let through: editing the manifest itself, and
changing a file while recomputing its checksum in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from export_helpers import (
    bundle_blobs,
    copy_bundle,
    new_key_file,
    project_key,
    read_manifest,
    resign,
)

from core.cli import main
from core.errors import BundleVerifyError
from core.export.bundle import json_bytes
from core.export.integrity import load_verified_bundle
from core.export.predict import predict
from core.export.signature import KEY_ENV, key_id, load_public_key
from core.export.verify import verify_bundle

REPO = Path(__file__).parents[3]


@pytest.fixture(autouse=True)
def _no_pinned_key_from_the_environment(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture
def pub(exported, tmp_path, capsys) -> Path:
    """The project's public key, as IT gets it."""
    out = tmp_path / "pub.pem"
    assert main(["keys", "export-public", str(exported.project), "--out", str(out)]) == 0
    capsys.readouterr()
    return out


def _write_manifest(bundle: Path, manifest: dict) -> None:
    (bundle / "manifest.json").write_bytes(json_bytes(manifest))


def _tamper_model(bundle: Path) -> None:
    """Change model.onnx (and its Triton copy) and recompute both checksums in the manifest.

    Only the graph's doc string changes, so the model still loads and reproduces its probe
    outputs: every check but the signature passes.
    """
    import onnx

    model = onnx.load(str(bundle / "model.onnx"))
    model.doc_string = "tampered after export"
    onnx.save(model, str(bundle / "model.onnx"))
    manifest = read_manifest(bundle)
    copy = manifest["triton"]["model_file"]
    shutil.copyfile(bundle / "model.onnx", bundle / copy)
    data = (bundle / "model.onnx").read_bytes()
    entry = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest["files"]["model.onnx"] = manifest["files"][copy] = entry
    _write_manifest(bundle, manifest)


def test_a_good_bundle_passes_with_and_without_a_pinned_key(exported, pub, capsys):
    expected = key_id(load_public_key(pub))
    report = verify_bundle(exported.bundle)
    assert report.signature is not None
    assert (report.signature.key_id, report.signature.pinned) == (expected, False)
    assert main(["bundle", "verify", str(exported.bundle)]) == 0
    out = capsys.readouterr().out
    assert "bundle OK" in out
    assert "NOT pinned" in out
    assert expected in out
    assert main(["bundle", "verify", str(exported.bundle), "--key", str(pub)]) == 0
    out = capsys.readouterr().out
    assert f"signed by the pinned key {expected}" in out
    assert "NOT pinned" not in out
    assert verify_bundle(exported.bundle, key=expected).signature.pinned  # a key id pins too


def test_an_edited_metric_in_the_manifest_fails_the_signature(exported, tmp_path, capsys):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    manifest = read_manifest(bundle)
    name = next(iter(manifest["metrics"]))
    manifest["metrics"][name] = 0.999
    _write_manifest(bundle, manifest)
    with pytest.raises(BundleVerifyError, match="signature does not match") as info:
        verify_bundle(bundle)
    assert info.value.file == "manifest.json"
    assert main(["bundle", "verify", str(bundle)]) == 1
    assert "signature does not match" in capsys.readouterr().err


def test_a_replaced_model_with_recomputed_checksums_fails(exported, tmp_path, pub, capsys):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    _tamper_model(bundle)
    for key in (None, pub):
        with pytest.raises(BundleVerifyError, match="signature does not match"):
            verify_bundle(bundle, key=key)
    assert main(["bundle", "verify", str(bundle), "--key", str(pub)]) == 1
    assert "manifest.json was changed after it was signed" in capsys.readouterr().err


def test_a_bundle_re_signed_with_another_key_fails_only_when_pinned(
    exported, tmp_path, pub, capsys
):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    _tamper_model(bundle)
    mallory = new_key_file(tmp_path / "mallory.key")
    resign(bundle, mallory)  # the attacker's key, embedded in signature.json
    with pytest.raises(BundleVerifyError, match="not by the pinned key") as info:
        verify_bundle(bundle, key=pub)
    assert info.value.file == "signature.json"
    assert main(["bundle", "verify", str(bundle), "--key", str(pub)]) == 1
    capsys.readouterr()
    careless = copy_bundle(exported.bundle, tmp_path / "careless")
    resign(careless, mallory, name_key=False)  # the manifest still names the project's key
    with pytest.raises(BundleVerifyError, match="the manifest names"):
        verify_bundle(careless)
    # Without a pinned key the bundle is merely self-consistent, and says so.
    assert main(["bundle", "verify", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "NOT pinned" in out
    assert key_id(load_public_key(pub)) not in out


def test_predict_refuses_a_tampered_bundle_and_loads_nothing(exported, tmp_path, pub):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    _tamper_model(bundle)
    with pytest.raises(BundleVerifyError, match="signature"):
        predict(bundle, ["a text"])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(KEY_ENV, None)
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "core.cli", "predict", str(bundle),
         "--text", "a text"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stdout == ""
    assert "signature does not match" in run.stderr
    imported = {line.split("|")[-1].strip() for line in run.stderr.splitlines()}
    assert "onnxruntime" not in imported  # the model was never opened


def test_predict_pins_the_key_from_its_option_or_the_environment(
    exported, tmp_path, pub, monkeypatch, capsys
):
    result = predict(exported.bundle, ["a text"], key=pub)
    assert result.signature.pinned
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    resign(bundle, new_key_file(tmp_path / "other.key"))  # intact, but someone else's
    assert not predict(bundle, ["a text"]).signature.pinned
    assert main(["predict", str(bundle), "--text", "a text", "--key", str(pub)]) == 1
    assert "not by the pinned key" in capsys.readouterr().err
    monkeypatch.setenv(KEY_ENV, str(pub))
    with pytest.raises(BundleVerifyError, match="not by the pinned key"):
        predict(bundle, ["a text"])
    with load_verified_bundle(exported.bundle) as verified:  # what a server calls
        assert verified.signature.pinned
        assert verified.files_checked == len(verified.manifest["files"])


def test_a_missing_or_malformed_signature_is_named(exported, tmp_path, capsys):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    document = json.loads((bundle / "signature.json").read_text())
    document["signature"] = "AAAA" + document["signature"][4:]
    (bundle / "signature.json").write_text(json.dumps(document))
    with pytest.raises(BundleVerifyError, match="signature does not match"):
        verify_bundle(bundle)
    (bundle / "signature.json").unlink()
    with pytest.raises(BundleVerifyError, match="not signed") as info:
        verify_bundle(bundle)
    assert info.value.file == "signature.json"
    assert main(["bundle", "verify", str(bundle)]) == 1
    assert "signature.json: missing" in capsys.readouterr().err


def test_the_signing_key_is_owner_only_and_never_in_the_bundle(exported, pub):
    from cryptography.hazmat.primitives import serialization

    key_file = project_key(exported.project)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    secrets = [key_file.read_bytes(), raw, raw.hex().encode()]
    secrets += [line.encode() for line in key_file.read_text().splitlines()[1:-1]]
    for name, blob in bundle_blobs(exported.bundle):
        assert not any(secret in blob for secret in secrets), name
    signature = json.loads((exported.bundle / "signature.json").read_text())
    assert signature["public_key"] == pub.read_text()
    assert read_manifest(exported.bundle)["signing"]["key_id"] == signature["key_id"]


def _zip(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out


def test_zipped_bundles_are_checked_the_same_way(exported, tmp_path, pub):
    good = _zip(exported.bundle, tmp_path / "good.zip")
    assert verify_bundle(good, key=pub).signature.pinned
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    manifest = read_manifest(bundle)
    manifest["quality"]["verdict"] = "passed, honestly"
    _write_manifest(bundle, manifest)
    with pytest.raises(BundleVerifyError, match="signature does not match"):
        verify_bundle(_zip(bundle, tmp_path / "bad.zip"), key=pub)
    with pytest.raises(BundleVerifyError, match="signature does not match"):
        predict(tmp_path / "bad.zip", ["a text"])


def test_an_added_file_is_reported_even_with_a_valid_signature(exported, tmp_path):
    bundle = copy_bundle(exported.bundle, tmp_path / "b")
    (bundle / "triton" / "extra.py").write_text("print('hi')")
    (bundle / "notes.txt").write_text("x")
    with pytest.raises(BundleVerifyError, match="not listed in the manifest") as info:
        verify_bundle(bundle)
    assert info.value.file == "notes.txt"
    assert "1 more: triton/extra.py" in info.value.problem


def test_the_signed_manifest_anchors_the_audit_chain(exported, tmp_path, pub, capsys):
    import sqlite3

    manifest = read_manifest(exported.bundle)
    project = shutil.copytree(exported.project, tmp_path / "project")
    argv = ["audit", "verify", str(project), "--bundle", str(exported.bundle), "--key", str(pub)]
    assert main(argv) == 0
    assert f"is row {manifest['audit_head_row']}" in capsys.readouterr().out
    conn = sqlite3.connect(project / "stillroom.db")  # as someone with the file would
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE id >= ?", (manifest["audit_head_row"],))
    conn.commit()
    conn.close()
    assert main(["audit", "verify", str(project)]) == 0  # the chain alone sees nothing
    capsys.readouterr()
    assert main(argv) == 1
    assert "truncated or rewritten" in capsys.readouterr().out
    forged = copy_bundle(exported.bundle, tmp_path / "forged")
    manifest["audit_head"] = "1" * 64  # recording another head needs a new signature
    _write_manifest(forged, manifest)
    assert main(["audit", "verify", str(project), "--bundle", str(forged)]) == 1
    assert "signature does not match" in capsys.readouterr().err
