"""How the teacher may talk to an endpoint: no credentials in URLs, no API key in clear text
over the network, and the organisation's own certificate authority for internal TLS.

Everything here runs before the first byte is sent, and no message it raises quotes a URL's
user info, query string or the API key.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.errors import TeacherError

if TYPE_CHECKING:
    from core.project import Project
    from core.teacher.config import TeachConfig

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_KEYISH_QUERY = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|code", re.IGNORECASE)
_KEY_HOME = (
    "put the API key in the environment variable named by --api-key-env (default "
    "STILLROOM_TEACHER_API_KEY) or in the OS keyring (service 'stillroom', user = the "
    "endpoint's host); Stillroom never stores it"
)


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path``: the URL without user info, query string or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 literal: show nothing of it
        return "(not a URL)"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else "(not a URL)"


def refuse_credentials(url: str) -> None:
    """Refuse a base URL that carries a secret (user info, or a key-like query parameter).

    Raises:
        TeacherError: the URL has user info, a query string or a fragment (the message
            never quotes them).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return  # not a URL at all: the caller refuses it without quoting it
    if "@" in parts.netloc:
        raise TeacherError(
            "the endpoint URL holds a user name or password, which would be stored in the "
            "project, its logs and its bundles",
            f"remove it from the URL; {_KEY_HOME}",
        )
    names = [pair.partition("=")[0] for pair in re.split(r"[&;]", parts.query) if pair]
    if any(_KEYISH_QUERY.search(name) for name in names):
        raise TeacherError(
            "the endpoint URL holds a key or token in its query string, which would be "
            "stored in the project, its logs and its bundles",
            f"remove it from the URL; {_KEY_HOME}",
        )
    if parts.query or parts.fragment:
        raise TeacherError(
            "the endpoint URL has a query string or fragment; a base URL takes none",
            "give the base URL only, for example --teacher openai:https://gpu-box:8000/v1",
        )


def check_env_name(name: str) -> None:
    """Refuse an ``--api-key-env`` that cannot be a variable name (a pasted key, say).

    Raises:
        TeacherError: ``name`` is not a valid environment variable name (not quoted).
    """
    if not _ENV_NAME.match(name):
        raise TeacherError(
            "--api-key-env takes the NAME of an environment variable, not the key itself "
            "(the value given is not a variable name and is not shown)",
            "export the key, e.g. export STILLROOM_TEACHER_API_KEY=..., and pass "
            "--api-key-env STILLROOM_TEACHER_API_KEY (or leave it out)",
        )


def check_api_key(key: str, env_var: str) -> None:
    """Refuse a key an HTTP header cannot carry, before any library puts it in an error.

    Raises:
        TeacherError: the key has characters outside printable ASCII (not quoted).
    """
    if not all(33 <= ord(char) < 127 for char in key):
        raise TeacherError(
            f"the API key in {env_var} (or the keyring) has spaces, line breaks or non-ASCII "
            "characters, which an HTTP header cannot carry",
            "store the key exactly as the server's owner gave it",
        )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` names and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.lower().strip("[]").split("%", 1)[0]
    if host in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def insecure_http_host(base_url: str, *, has_key: bool, allow: bool) -> str | None:
    """Decide whether an API key may go over plain HTTP to this endpoint.

    Returns:
        The host when plain HTTP with a key to a non-loopback host was allowed by
        ``--allow-insecure-http`` (the caller audits it); None when there is nothing to
        allow (HTTPS, loopback, or no key).

    Raises:
        TeacherError: a key would be sent in clear text to another machine without
            ``--allow-insecure-http``.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "http" or not has_key or is_loopback(host):
        return None
    if not allow:
        raise TeacherError(
            f"the API key would be sent unencrypted (plain http) to {host}",
            "use the endpoint's https:// URL (with --ca-bundle PATH for an internal "
            "certificate authority), or pass --allow-insecure-http if the network is trusted "
            "(it is recorded in the audit log)",
        )
    return host


def tls_verify(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    """What httpx verifies server certificates with: the system's CAs, or the given bundle.

    Raises:
        TeacherError: the CA bundle cannot be read as PEM certificates.
    """
    if ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError, ValueError):
        raise TeacherError(
            f"cannot read the CA bundle {ca_bundle} as PEM certificates",
            "pass the PEM file of your organisation's certificate authority with --ca-bundle",
        ) from None


def audit_transport(project: Project, config: TeachConfig, run_id: str | None) -> None:
    """Refuse, or audit, an API key about to go over plain http to another machine.

    Only the host is recorded, never the key. Runs before anything is sent.

    Raises:
        TeacherError: as :func:`insecure_http_host`.
    """
    from core.teacher.credentials import api_key
    from core.teacher.sources import ENDPOINT_SPEC, parse_spec

    prefix, base_url = parse_spec(config.teacher)
    if prefix != ENDPOINT_SPEC.prefix or urlsplit(base_url).scheme != "http":
        return
    host = urlsplit(base_url).hostname or ""
    allowed = insecure_http_host(
        base_url,
        has_key=api_key(config.api_key_env, host) is not None,
        allow=config.allow_insecure_http,
    )
    if allowed is not None:
        project.audit(
            "teach.insecure_http",
            {"run": run_id, "host": allowed, "note": "API key sent over plain http, allowed "
             "by --allow-insecure-http"},
        )  # fmt: skip
