"""A guard against a reference-counting bug in PySide6 6.12.0 on Python 3.11.

There, ``SignalInstance.emit()`` returns ``True`` without taking a reference to it, so every
signal emitted from Python code takes one reference away from ``True``. A window that runs a
training job emits thousands of progress and metric signals; once the count reaches zero
the interpreter aborts ("bool_dealloc: deallocating True or False"), mid-run or at exit.

:func:`guard_emit_refcount_bug` measures whether this Qt build has the bug and, if it
does, gives ``True`` and ``False`` so many references that no session can use them up: the
effect Python 3.12 reaches by making them immortal. Builds without the bug are left alone.

The same build also takes one reference from ``None`` on every call of a method that
returns nothing (``setText``, ``show``, ``processEvents``…): a few thousand calls abort the
interpreter ("none_dealloc"). ``None`` gets the same reserve when that is measured.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 40  # emits a session could never reach
_PROBES = 16
_guarded = False


def emit_leaks_a_reference() -> bool:
    """Whether emitting a Python-side signal takes a reference from ``True``."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.ping.emit()
    return sys.getrefcount(True) <= before - _PROBES


def void_call_leaks_a_reference() -> bool:
    """Whether calling a Qt method that returns nothing takes a reference from ``None``."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBES):
        probe.setObjectName("probe")
    return sys.getrefcount(None) <= before - _PROBES


def guard_emit_refcount_bug() -> bool:
    """Apply the guard once if this PySide6 has the bug; True if it was applied."""
    global _guarded
    if _guarded:
        return True
    leaking: list[object] = [True, False] if emit_leaks_a_reference() else []
    if void_call_leaks_a_reference():
        leaking.append(None)
    if not leaking:
        return False
    for constant in leaking:
        # ob_refcnt is the object's first field (a Py_ssize_t) in CPython 3.11.
        ctypes.c_ssize_t.from_address(id(constant)).value += _RESERVE
    _guarded = True
    return True
