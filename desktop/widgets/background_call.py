"""One blocking core call (an endpoint check, a dry run, a device probe) off the UI thread.

Fast-enough calls go through ``StagePage.run_guarded``; a call that may wait on the network
or load a model runs here on a Python thread, and its outcome comes back as a Qt signal on
the UI thread, so the window never freezes. Whole stages go to the worker process instead
(DESIGN §5); this is for calls that store nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal, Slot


def settle_heavy_imports(*, collect: bool = False) -> None:
    """Put every object alive now out of the garbage collector's reach (``gc.freeze``).

    torch and transformers bring some 400,000 long-lived objects into the window's process
    (the model catalogue, the GPU probe, a dry run); every full collection would rescan
    them, holding the interpreter lock for about 0.5 s and stalling the UI thread. Call this
    right after such imports; ``collect`` first frees the garbage a finished call left (a
    dry run's model), which freezing would otherwise keep forever.
    """
    if collect:
        gc.collect()
    gc.freeze()


class _Relay(QObject):
    """Carries one call's outcome from its thread to the UI thread.

    It belongs to the call's thread, not to the page: a page closed while the call runs
    deletes its ``BackgroundCall``, and emitting a signal of that deleted object from the
    thread crashed the process (a segfault in the test suite). Qt drops a connection whose
    receiver is gone, so the relay's emit is then simply delivered nowhere.
    """

    done = Signal(bool, object)


class BackgroundCall(QObject):
    """Runs ``fn(*args)`` on a thread once :meth:`start` is called.

    ``succeeded(result)`` or ``failed(exception)`` follows on the UI thread, then
    ``finished``. The exception is passed as is: callers show a ``UserError``'s message
    and hint, and never the text of anything else (it may quote data).
    """

    succeeded = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn, self._args = fn, args
        self._thread: threading.Thread | None = None
        self._running = False

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._thread = threading.Thread(target=self._run, name="stillroom-call", daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        return self._running

    def wait(self, msecs: int) -> bool:
        """Spin the event loop until the call finished or ``msecs`` passed (tests, close)."""
        if not self._running:
            return True
        loop = QEventLoop()
        QTimer.singleShot(msecs, loop.quit)
        self.finished.connect(loop.quit)
        if self._running:
            loop.exec()
        self.finished.disconnect(loop.quit)
        return not self._running

    def _run(self) -> None:
        relay = _Relay()
        try:  # queued: delivered on the UI thread that owns this object, if it still exists
            relay.done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        except RuntimeError:  # the page was closed before the call began
            return
        try:
            outcome, ok = self._fn(*self._args), True
        except Exception as exc:  # noqa: BLE001 — handed to the UI thread, which decides
            outcome, ok = exc, False
        relay.done.emit(ok, outcome)

    @Slot(bool, object)
    def _deliver(self, ok: bool, outcome: object) -> None:
        self._running = False
        if ok:
            self.succeeded.emit(outcome)
        else:
            self.failed.emit(outcome)
        self.finished.emit()
