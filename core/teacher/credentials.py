"""Where an endpoint's API key comes from: an environment variable, else the OS keyring.

The key lives only in memory: it is never written to the project, its runs, events, audit
log or error messages.
"""

from __future__ import annotations

import os

KEYRING_SERVICE = "stillroom"


def api_key(env_var: str, host: str) -> str | None:
    """The key from ``$env_var``, else the keyring (service ``stillroom``, user ``host``).

    The ``keyring`` package is optional; without it, or without a stored key, None.
    """
    value = os.environ.get(env_var, "").strip()
    if value:
        return value
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        stored = keyring.get_password(KEYRING_SERVICE, host)
    except (KeyringError, RuntimeError, OSError):
        return None  # no usable backend (a headless server): same as no key
    return stored.strip() if stored else None
