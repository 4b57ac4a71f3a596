"""The PySide6 desktop layer over ``core`` (DESIGN §2)."""

from desktop.qt_compat import guard_emit_refcount_bug

guard_emit_refcount_bug()
