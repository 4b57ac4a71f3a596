"""The job panel under a page's banner: progress, what is happening, time left, Cancel.

Cancel asks the worker to stop at its next batch (it saves a checkpoint first); the button
then turns into "Force stop", which kills the worker: the run stays resumable from its last
checkpoint either way.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from desktop.widgets.form_fields import wrapped_label
from desktop.workers.stage_worker import StageWorker

_ETA_AFTER_S = 3.0  # earlier estimates swing too much to be worth showing
_ETA_AFTER_FRACTION = 0.02


def format_duration(seconds: float) -> str:
    """``75`` → ``"1:15"``, ``3725`` → ``"1:02:05"``."""
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobPanel(QWidget):
    """Shows one :class:`StageWorker`'s progress and lets the user stop it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobPanel")
        self._worker: StageWorker | None = None
        self._started_at = 0.0
        self._fraction = 0.0
        self._rate = ""
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setAccessibleName("Job progress")
        self.message_label = wrapped_label("", self, "jobMessage", plain=True)
        self.eta_label = QLabel(self)
        self.eta_label.setObjectName("jobEta")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("jobCancel")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_eta)
        top = QHBoxLayout()
        top.addWidget(self.progress_bar, 1)
        top.addWidget(self.cancel_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message_label, 1)
        bottom.addWidget(self.eta_label, 0, Qt.AlignmentFlag.AlignRight)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 4, 0, 4)
        column.addLayout(top)
        column.addLayout(bottom)
        self._set_cancel_idle()

    # -- wiring ----------------------------------------------------------------------------

    def attach(self, worker: StageWorker) -> None:
        """Follow ``worker`` from now on (it may be started before or after this call)."""
        self.detach()
        self._worker = worker
        worker.started.connect(self._on_started)
        worker.progress.connect(self.set_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.cancelled.connect(self._on_cancelled)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self._begin()
        self.show()

    def detach(self) -> None:
        if self._worker is None:
            return
        for signal, slot in (
            (self._worker.started, self._on_started),
            (self._worker.progress, self.set_progress),
            (self._worker.succeeded, self._on_succeeded),
            (self._worker.cancelled, self._on_cancelled),
            (self._worker.failed, self._on_failed),
            (self._worker.finished, self._on_finished),
        ):
            signal.disconnect(slot)
        self._worker = None
        self._tick.stop()

    def set_rate(self, text: str) -> None:
        """A page's own rate line (``"42 records/s"``), shown before the time left."""
        self._rate = text
        self._update_eta()

    # -- updates ---------------------------------------------------------------------------

    def set_progress(self, fraction: float, message: str = "") -> None:
        self._fraction = min(max(fraction, 0.0), 1.0)
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1000)  # leave the busy indicator
        self.progress_bar.setValue(int(self._fraction * 1000))
        if message:
            self.message_label.setText(message)
        self._update_eta()

    def _begin(self) -> None:
        self._started_at = time.monotonic()
        self._fraction = 0.0
        self._rate = ""
        self.progress_bar.setValue(0)
        self.progress_bar.setRange(0, 0)  # busy until the first progress event
        self.message_label.setText("Starting…")
        self.eta_label.clear()
        self._set_cancel_running()
        self._tick.start()

    def _on_started(self, run_id: str) -> None:
        self.message_label.setText("Running…")

    def _update_eta(self) -> None:
        elapsed = time.monotonic() - self._started_at
        parts = [self._rate] if self._rate else []
        parts.append(f"elapsed {format_duration(elapsed)}")
        running = self._worker is not None and self._worker.is_running()
        if running and elapsed >= _ETA_AFTER_S and self._fraction >= _ETA_AFTER_FRACTION:
            left = elapsed / self._fraction * (1.0 - self._fraction)
            parts.append(f"about {format_duration(left)} left")
        self.eta_label.setText(" · ".join(parts))

    def _on_cancel_clicked(self) -> None:
        if self._worker is None or not self._worker.is_running():
            return
        first = not self._worker.cancel_requested()
        self._worker.cancel()
        if first:
            self.message_label.setText("Stopping after the current step…")
            self.cancel_button.setText("Force stop")
            self.cancel_button.setToolTip(
                "Stop immediately. The run can be resumed from its last checkpoint."
            )
        else:
            self.message_label.setText("Stopping now…")
            self.cancel_button.setEnabled(False)

    def _on_succeeded(self, result: object) -> None:
        self.set_progress(1.0)
        self.message_label.setText("Finished.")

    def _on_cancelled(self) -> None:
        self.message_label.setText("Stopped. The run can be resumed where it left off.")

    def _on_failed(self, error: dict[str, object]) -> None:
        self.message_label.setText("Stopped on an error (see the message above).")

    def _on_finished(self) -> None:
        self._tick.stop()
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1000)
        self._update_eta()
        self._set_cancel_idle()

    def _set_cancel_running(self) -> None:
        self.cancel_button.setText("Cancel")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setToolTip(
            "Stop after the current step; what is done is kept and the run can be resumed."
        )

    def _set_cancel_idle(self) -> None:
        self.cancel_button.setText("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setVisible(False)
