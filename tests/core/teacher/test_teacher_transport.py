"""Plain http with a key to another machine is refused unless allowed (and audited); an
internal CA is trusted through --ca-bundle (issue 13, item 9).

No traffic leaves the machine: "another machine" is a name that this test resolves to
127.0.0.1 (a fake hosts-file entry), and the TLS server is on loopback with a certificate
made here for 127.0.0.1.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
from pathlib import Path

import pytest

from core.cli import main
from core.errors import EndpointError, TeacherError
from core.jobs.execute import run_stage
from core.jobs.registry import TEACH
from core.reporter import NullReporter
from core.teacher.config import TeachConfig
from core.teacher.endpoint_check import check_endpoint
from core.teacher.transport import is_loopback

OTHER_HOST = "teacher.hospital.test"
KEY = "sk-transport-test-91c2"


@pytest.fixture
def other_host(monkeypatch):
    """``OTHER_HOST`` resolves to 127.0.0.1, as if the hosts file said so."""
    resolve = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host  # anyio passes IDNA bytes
        assert name in (None, OTHER_HOST, "127.0.0.1", "localhost"), name  # nothing else
        return resolve("127.0.0.1" if name == OTHER_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return OTHER_HOST


@pytest.fixture
def keyed(server, monkeypatch):
    monkeypatch.setenv("STILLROOM_TEACHER_API_KEY", KEY)
    server.switches.api_key = KEY
    return server


def _config(url, **changes):
    return TeachConfig(**{"teacher": f"openai:{url}", "model": "tiny", "limit": 3, **changes})


def _audit(project, action):
    rows = project.store.query("SELECT details FROM audit WHERE action = ?", (action,))
    return [json.loads(r["details"]) for r in rows]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
     ("[::1]", True), ("::ffff:127.0.0.1", True), ("LOCALHOST", True), ("10.0.0.1", False),
     ("gpu-box", False), ("localhost.evil.example", False), ("0.0.0.0", False)],
)  # fmt: skip
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_http_with_a_key_to_another_host_is_refused_before_sending(teach_project, keyed,
                                                                  other_host):  # fmt: skip
    url = f"http://{other_host}:{keyed.port}/v1"
    with pytest.raises(TeacherError, match="unencrypted") as info:
        run_stage(teach_project, TEACH, _config(url), reporter=NullReporter())
    assert "--allow-insecure-http" in info.value.hint
    assert "https" in info.value.hint
    assert keyed.headers_seen == []  # not even the pre-flight went out
    with pytest.raises(TeacherError, match="unencrypted"):
        check_endpoint(_config(url))
    assert keyed.headers_seen == []


def test_the_cli_refuses_it_with_exit_2(capsys, teach_project, keyed, other_host):
    code = main(["teach", str(teach_project.path), "--teacher",
                 f"openai:http://{other_host}:{keyed.port}/v1", "--model", "tiny"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1
    assert "--allow-insecure-http" in err
    assert KEY not in out + err
    assert keyed.headers_seen == []


def test_allow_insecure_http_sends_it_and_audits_the_host(capsys, teach_project, keyed,
                                                         other_host):  # fmt: skip
    code = main(["teach", str(teach_project.path), "--teacher",
                 f"openai:http://{other_host}:{keyed.port}/v1", "--model", "tiny",
                 "--limit", "3", "--allow-insecure-http", "--json"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["labelled"] == 3
    assert f"Bearer {KEY}" in keyed.authorizations
    rows = _audit(teach_project, "teach.insecure_http")
    assert len(rows) == 1
    assert rows[0]["host"] == other_host
    assert rows[0]["run"]
    details = " ".join(r["details"] for r in teach_project.store.query("SELECT details FROM audit"))
    assert KEY not in details


def test_http_without_a_key_or_to_loopback_needs_no_flag(teach_project, server, other_host,
                                                        monkeypatch):  # fmt: skip
    monkeypatch.delenv("STILLROOM_TEACHER_API_KEY", raising=False)
    result = run_stage(teach_project, TEACH, _config(f"http://{other_host}:{server.port}/v1"),
                       reporter=NullReporter())  # fmt: skip
    assert result.labelled == 3
    monkeypatch.setenv("STILLROOM_TEACHER_API_KEY", KEY)
    server.switches.api_key = KEY
    again = run_stage(teach_project, TEACH, _config(server.base_url), reporter=NullReporter())
    assert again.labelled == 3  # 127.0.0.1 over http: the key never leaves the machine
    assert _audit(teach_project, "teach.insecure_http") == []


# -- an internal certificate authority ------------------------------------------------------


def _make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signed for IP 127.0.0.1 (PEM files)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def build(subject, issuer, public_key, signing_key, extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )  # fmt: skip
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build(name("Hospital Test CA"), name("Hospital Test CA"), ca_key.public_key(), ca_key, [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                       key_agreement=False, encipher_only=False, decipher_only=False), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    leaf = build(name("127.0.0.1"), ca.subject, key.public_key(), ca_key, [
        (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
    ])  # fmt: skip
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return paths


@pytest.fixture
def tls_server(tmp_path, model_backend):
    from fake_openai_server import FakeOpenAIServer, Switches

    ca, cert, key = _make_ca_and_server_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake = FakeOpenAIServer(model_backend, Switches(model_name="tiny")).start(tls=context)
    yield fake, ca
    fake.stop()


def test_an_internal_ca_is_trusted_only_with_ca_bundle(teach_project, tls_server):
    server, ca = tls_server
    assert server.base_url.startswith("https://127.0.0.1:")
    with pytest.raises(EndpointError, match="does not trust") as info:
        run_stage(teach_project, TEACH, _config(server.base_url), reporter=NullReporter())
    assert "--ca-bundle" in info.value.hint
    assert server.outcomes["200"] == 0
    result = run_stage(teach_project, TEACH, _config(server.base_url, ca_bundle=ca),
                       reporter=NullReporter())  # fmt: skip
    assert result.labelled == 3
    assert check_endpoint(_config(server.base_url, ca_bundle=ca)).model == "tiny"


def test_the_cli_passes_ca_bundle_through(capsys, teach_project, tls_server):
    server, ca = tls_server
    code = main(["teach", str(teach_project.path), "--teacher", f"openai:{server.base_url}",
                 "--model", "tiny", "--limit", "2", "--ca-bundle", str(ca), "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["labelled"] == 2
    stored = teach_project.store.query("SELECT config FROM runs WHERE stage = 'teach'")
    assert json.loads(stored[0]["config"])["ca_bundle"] == str(ca)


@pytest.mark.parametrize(
    ("content", "message"), [(None, "does not exist"), ("not a certificate", "cannot read")]
)
def test_a_bad_ca_bundle_exits_2(capsys, teach_project, tmp_path, content, message):
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content)
    code = main(["teach", str(teach_project.path), "--teacher", "openai:https://127.0.0.1:9/v1",
                 "--model", "tiny", "--ca-bundle", str(bundle)])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
