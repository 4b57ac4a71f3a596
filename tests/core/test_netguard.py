from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from core import netguard
from core.errors import EgressBlocked
from core.project import egress_audit_listener

# TEST-NET-3 (RFC 5737): never routed, so even a failure of the guard sends nothing real.
UNROUTABLE = "203.0.113.7"


def _loopback_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()  # the kernel completes the handshake; no accept() needed
    return server


def test_guard_is_installed_for_every_test():
    assert netguard.is_installed()


def test_connection_to_a_non_allowed_address_is_refused():
    with socket.socket() as sock, pytest.raises(EgressBlocked) as info:
        sock.connect((UNROUTABLE, 443))
    assert info.value.host == UNROUTABLE
    assert info.value.port == 443
    assert "air-gapped" in str(info.value)


def test_connect_ex_and_udp_sendto_are_refused_too():
    with socket.socket() as sock, pytest.raises(EgressBlocked):
        sock.connect_ex((UNROUTABLE, 80))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(EgressBlocked):
        udp.sendto(b"x", (UNROUTABLE, 53))


def test_name_lookup_of_a_hub_is_refused_before_any_dns_query():
    with pytest.raises(EgressBlocked) as info:
        socket.getaddrinfo("huggingface.co", 443)
    assert info.value.host == "huggingface.co"


def test_http_clients_see_an_os_error():
    with pytest.raises(urllib.error.URLError, match="blocked"):
        urllib.request.urlopen("http://example.com/", timeout=1)


def test_loopback_works_by_address_and_by_name():
    server = _loopback_server()
    port = server.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    server.close()
    server = _loopback_server()
    with socket.create_connection(("localhost", server.getsockname()[1]), timeout=2):
        pass
    server.close()


def test_an_allowed_host_is_allowed_only_inside_the_block():
    with netguard.allowed(UNROUTABLE):
        assert netguard.is_allowed(UNROUTABLE)
    assert not netguard.is_allowed(UNROUTABLE)


def test_unix_sockets_are_not_affected(tmp_path):
    path = str(tmp_path / "s")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(path)
    server.close()


def test_a_blocked_attempt_is_audited_without_payload(project):
    listener = egress_audit_listener(project.path)
    netguard.add_block_listener(listener)
    try:
        with socket.socket() as sock, pytest.raises(EgressBlocked):
            sock.connect((UNROUTABLE, 8443))
    finally:
        netguard.remove_block_listener(listener)
    row = project.store.query("SELECT action, details FROM audit WHERE action = 'egress.blocked'")[
        0
    ]
    assert row["details"] == f'{{"host":"{UNROUTABLE}","port":8443}}'


def test_offline_environment_is_set_on_import():
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""
    # ONNX Runtime's telemetry leaves from native threads that the guard never sees.
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
