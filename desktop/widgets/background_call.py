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

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal


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


_POLL_MS = 25  # how soon a finished call is noticed on the UI thread


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
        # The thread never touches a Qt object: a page closed while its call ran deleted
        # this object under the thread, and the thread's signal emit (later its connect)
        # crashed the process. The thread fills a plain list; a timer owned by this object
        # (so it dies with the page) collects the outcome on the UI thread.
        self._box: list[tuple[bool, object]] = []
        self._poll = QTimer(self)
        self._poll.setInterval(_POLL_MS)
        self._poll.timeout.connect(self._collect)

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._box = []
        self._thread = threading.Thread(
            target=_call, args=(self._box, self._fn, self._args), name="stillroom-call",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        self._poll.start()

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

    def _collect(self) -> None:
        if self._box:
            self._poll.stop()
            self._deliver(*self._box[0])

    def _deliver(self, ok: bool, outcome: object) -> None:
        self._running = False
        if ok:
            self.succeeded.emit(outcome)
        else:
            self.failed.emit(outcome)
        self.finished.emit()


def _call(box: list[tuple[bool, object]], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """The thread's whole work: run ``fn`` and leave its outcome in ``box``."""
    try:
        box.append((True, fn(*args)))
    except Exception as exc:  # noqa: BLE001 — handed to the UI thread, which decides
        box.append((False, exc))
