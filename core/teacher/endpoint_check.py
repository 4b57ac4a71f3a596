"""The "Test endpoint" check: a teach run's pre-flight on its own, with a short timeout.

It is exactly what a run does first (``GET /models``: reachable, key accepted, model served),
with the endpoint's host allowed through the egress guard only while it runs, as the stage
does. Neither the key nor any reply body reaches a message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core import netguard
from core.errors import TeacherError
from core.teacher.config import TeachConfig, endpoint_host
from core.teacher.sources import ENDPOINT_SPEC, parse_spec
from core.teacher.transport import check_api_key, insecure_http_host

CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class EndpointCheck:
    """A successful check: the base URL a run will use and whether a key was sent."""

    base_url: str
    model: str
    had_key: bool


def check_endpoint(config: TeachConfig, *, timeout_s: float = CHECK_TIMEOUT_S) -> EndpointCheck:
    """Check that an endpoint teacher answers, accepts the key and serves the model.

    Args:
        config: the teach config of an ``openai:`` teacher (its key comes from
            ``config.api_key_env``, else the OS keyring, as in a run).
        timeout_s: the most seconds to wait for the connection and for the answer.

    Returns:
        What was checked.

    Raises:
        TeacherError: the config is not an endpoint teacher, or is invalid, or would send
            the key over plain http to another machine without ``allow_insecure_http``.
        EndpointError: the endpoint is unreachable, refused the key, or does not serve
            the model.
    """
    from core.teacher.credentials import api_key
    from core.teacher.endpoint_client import preflight

    config.validate()
    prefix, base_url = parse_spec(config.teacher)
    if prefix != ENDPOINT_SPEC.prefix:
        raise TeacherError("only an endpoint teacher can be tested", "choose the endpoint source")
    host = endpoint_host(config) or ""
    short = dataclasses.replace(
        config,
        timeout_s=min(config.timeout_s, timeout_s),
        connect_timeout_s=min(config.connect_timeout_s, timeout_s),
    )
    key = api_key(config.api_key_env, host)
    if key is not None:
        check_api_key(key, config.api_key_env)
    # A check sends the key too; with --allow-insecure-http a run audits it (no project here).
    insecure_http_host(base_url, has_key=key is not None, allow=config.allow_insecure_http)
    with netguard.allowed(host):
        used = preflight(base_url, short, key)
    return EndpointCheck(base_url=used, model=config.model or "", had_key=key is not None)
