"""The in-process egress allow-list (DESIGN §7).

Stillroom runs on air-gapped machines. Every entry point calls :func:`install` first; from
then on, a connection to anything but loopback (or a host the user configured for a teacher
endpoint, added with :func:`allow_host` only for that stage) raises :class:`EgressBlocked`.
Name lookups for other hosts are refused too, because a DNS query is already egress.

This is a guard against our own dependencies phoning home (hubs, telemetry, suffix lists),
not a sandbox against hostile code in the process.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from core.errors import EgressBlocked

BlockListener = Callable[[str, int | None], None]

_lock = threading.RLock()
_allowed_hosts: set[str] = set()
_allowed_addresses: set[str] = set()
_listeners: list[BlockListener] = []
_installed = False
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_sendto = socket.socket.sendto
_original_getaddrinfo = socket.getaddrinfo

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def install() -> None:
    """Patch the socket module so only allowed destinations can be reached (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
        socket.socket.sendto = _guarded_sendto  # type: ignore[assignment]
        socket.getaddrinfo = _guarded_getaddrinfo
        _installed = True


def uninstall() -> None:
    """Restore the original socket functions (for tests)."""
    global _installed
    with _lock:
        socket.socket.connect = _original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _original_connect_ex  # type: ignore[method-assign]
        socket.socket.sendto = _original_sendto  # type: ignore[method-assign]
        socket.getaddrinfo = _original_getaddrinfo
        _installed = False


def is_installed() -> bool:
    return _installed


def allow_host(host: str) -> None:
    """Allow one host (a teacher endpoint's host name or address)."""
    with _lock:
        _allowed_hosts.add(host.lower().strip("[]"))


def disallow_host(host: str) -> None:
    """Take a host off the allow-list again, with the addresses it resolved to."""
    with _lock:
        _allowed_hosts.discard(host.lower().strip("[]"))
        _allowed_addresses.clear()


@contextlib.contextmanager
def allowed(host: str | None) -> Iterator[None]:
    """Allow ``host`` for the duration of the block only (a teacher stage, say)."""
    if host is None:
        yield
        return
    allow_host(host)
    try:
        yield
    finally:
        disallow_host(host)


def add_block_listener(listener: BlockListener) -> None:
    """Call ``listener(host, port)`` on every blocked attempt (the project audits it)."""
    with _lock:
        _listeners.append(listener)


def remove_block_listener(listener: BlockListener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def is_allowed(host: str) -> bool:
    """True if ``host`` (a name or an address) may be contacted."""
    host = host.lower().strip("[]").split("%", 1)[0]
    if host in _LOOPBACK_NAMES or host in _allowed_hosts or host in _allowed_addresses:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _block(host: str, port: int | None) -> EgressBlocked:
    for listener in list(_listeners):
        # A failing audit write must not turn a refusal into a different error.
        with contextlib.suppress(Exception):
            listener(host, port)
    return EgressBlocked(host, port)


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets and the like never leave the machine.
    host, port = str(address[0]), int(address[1])
    if not is_allowed(host):
        raise _block(host, port)


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _original_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _original_connect_ex(self, address)


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check_address(self, args[-1])
    return _original_sendto(self, data, *args)


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or is_allowed(str(name)):
        results = _original_getaddrinfo(host, port, *args, **kwargs)
        if name is not None and str(name).lower() in _allowed_hosts:
            with _lock:
                _allowed_addresses.update(str(info[4][0]) for info in results)
        return results
    raise _block(str(name), port if isinstance(port, int) else None)
