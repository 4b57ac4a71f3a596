"""The key that signs bundles: the project's own (created once, owner-only, audited) or an
organisation's (``--signing-key``, refused unless owner-only Ed25519), and its public half
for IT (``stillroom keys export-public``), checkable with plain OpenSSL."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess

import pytest
from export_helpers import new_key_file

from core.cli import main
from core.errors import SigningKeyError
from core.export.keys import project_key_path, signer_for
from core.export.signature import KEY_ENV
from core.export.stage import ExportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT
from core.reporter import NullReporter
from core.store import audit


@pytest.fixture(autouse=True)
def _no_pinned_key_from_the_environment(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def test_the_project_key_is_created_once_owner_only_and_audited(project):
    assert not project_key_path(project).exists()
    first = signer_for(project, None)
    path = project_key_path(project)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert b"BEGIN PRIVATE KEY" in path.read_bytes()  # PEM, PKCS#8
    assert signer_for(project, None).key_id == first.key_id
    created = [e for e in audit.entries(project.store) if e.action == "keys.create"]
    assert [e.details for e in created] == [
        {"key_id": first.key_id, "file": "keys/bundle_signing.key"}
    ]
    os.chmod(path, 0o644)  # ours, so tightened rather than refused
    assert signer_for(project, None).key_id == first.key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _rsa_key(path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)
    return path


def _encrypted_key(path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    return path


def test_an_unusable_organisation_key_is_refused_before_any_work(fresh_project, tmp_path):
    shared = new_key_file(tmp_path / "shared.key")
    os.chmod(shared, 0o640)
    cases = [
        (shared, "readable by other users"),
        (_rsa_key(tmp_path / "rsa.key"), "Ed25519"),
        (_encrypted_key(tmp_path / "enc.key"), "encrypted"),
        (tmp_path / "missing.key", "cannot read"),
    ]
    out = tmp_path / "bundle"
    for key, why in cases:
        config = ExportConfig(out=out, signing_key=key)
        with pytest.raises(SigningKeyError, match=why):
            run_stage(fresh_project, EXPORT, config, reporter=NullReporter())
        assert not out.exists()
    assert not project_key_path(fresh_project).exists()


def test_an_organisation_key_signs_a_zip_that_its_public_key_pins(fresh_project, tmp_path, capsys):
    from core.export.verify import verify_bundle

    org = new_key_file(tmp_path / "org.key")
    out = tmp_path / "bundle.zip"
    config = ExportConfig(out=out, format="zip", signing_key=org)
    result = run_stage(fresh_project, EXPORT, config, reporter=NullReporter())
    assert result.signing_key_source == "organisation"
    assert not project_key_path(fresh_project).exists()  # no project key was made
    pub = tmp_path / "org.pub"
    argv = ["keys", "export-public", str(fresh_project.path), "--signing-key", str(org)]
    assert main([*argv, "--out", str(pub)]) == 0
    assert result.signing_key_id in capsys.readouterr().out
    report = verify_bundle(out, key=pub)
    assert report.signature.pinned
    assert report.signature.key_id == result.signing_key_id
    assert verify_bundle(out).signature.key_source == "organisation"
    finished = [e for e in audit.entries(fresh_project.store) if e.action == "export.finish"]
    assert finished[-1].details["signing_key_id"] == result.signing_key_id


def test_export_public_prints_only_the_pem_without_out(project, capsys):
    assert main(["keys", "export-public", str(project.path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("-----BEGIN PUBLIC KEY-----")
    assert out.rstrip().endswith("-----END PUBLIC KEY-----")
    assert "key id sha256:" in err
    assert "PRIVATE" not in out


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_alone_checks_the_key_id_and_the_signature(exported, tmp_path, capsys):
    """What docs/INSTALL.md tells IT to run, without Stillroom."""
    pub = tmp_path / "pub.pem"
    assert main(["keys", "export-public", str(exported.project), "--out", str(pub)]) == 0
    capsys.readouterr()
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(pub), "-outform", "DER"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    import hashlib

    document = json.loads((exported.bundle / "signature.json").read_text())
    assert document["key_id"] == "sha256:" + hashlib.sha256(der).hexdigest()
    sig = tmp_path / "manifest.sig"
    sig.write_bytes(base64.b64decode(document["signature"]))
    check = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin",
             "-in", str(exported.bundle / "manifest.json"), "-sigfile", str(sig)]  # fmt: skip
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0
    edited = tmp_path / "manifest.json"
    edited.write_bytes((exported.bundle / "manifest.json").read_bytes().replace(b'"', b"'", 1))
    check[check.index(str(exported.bundle / "manifest.json"))] = str(edited)
    assert subprocess.run(check, capture_output=True, check=False).returncode != 0
