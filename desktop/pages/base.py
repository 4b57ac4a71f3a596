"""What every stage page shares: banner, job panel, starting a stage, guarded core calls.

Pages compute nothing: they gather a config, start a :class:`StageWorker` (or call a fast
core function through :meth:`StagePage.run_guarded`) and render what the store holds.
Layout: the page's heading, the banner, the job panel, then whatever :meth:`build` adds to
``self.body_layout`` (the page's own vertical layout).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.errors import UserError
from core.jobs.registry import Stage
from desktop.context import AppContext
from desktop.widgets.banner import InlineBanner
from desktop.widgets.error_dialog import show_error_dialog
from desktop.widgets.job_panel import JobPanel
from desktop.workers.stage_worker import StageWorker

T = TypeVar("T")
log = logging.getLogger("stillroom.desktop")


class StagePage(QWidget):
    """Base of the pages. A stage's page sets ``stage`` (its descriptor in
    :mod:`core.jobs.registry`, which also gives its title); the project page sets ``title``.
    Subclasses override :meth:`build` and :meth:`refresh` (and the ``on_stage_*`` hooks)."""

    stage: ClassVar[Stage[Any, Any] | None] = None
    title: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.stage is not None:
            cls.title = cls.stage.title

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName(f"{self.page_key()}Page")
        self.worker: StageWorker | None = None
        self._stale = True  # refresh on the next show
        self.body_layout = QVBoxLayout(self)
        self.body_layout.setContentsMargins(24, 16, 24, 16)
        self.body_layout.setSpacing(12)
        self.heading = QLabel(self.title, self)
        self.heading.setObjectName("pageTitle")
        self.banner = InlineBanner(self)
        self.job_panel = JobPanel(self)
        self.job_panel.hide()
        self.runs_button = QPushButton("All runs…" if self.stage is None else "Run history…", self)
        self.runs_button.setObjectName("runsButton")
        self.runs_button.setToolTip(
            "Every run, with its settings, figures, duration and who ran it; compare two "
            "and choose which student Evaluate and Export use."
        )
        self.runs_button.clicked.connect(self.open_runs)
        heading_row = QHBoxLayout()
        heading_row.addWidget(self.heading, 1)
        heading_row.addWidget(self.runs_button)
        self.body_layout.addLayout(heading_row)
        self.body_layout.addWidget(self.banner)
        self.body_layout.addWidget(self.job_panel)
        self.build()
        context.project_changed.connect(self._on_context_changed)
        context.stages_changed.connect(self._on_context_changed)

    @classmethod
    def page_key(cls) -> str:
        """The page's key in the window: its stage's ``page``, or ``project``."""
        return "project" if cls.stage is None else cls.stage.page

    # -- for subclasses --------------------------------------------------------------------

    def build(self) -> None:
        """Lay out the page's widgets in ``self.body_layout`` (called once, by __init__)."""

    def refresh(self) -> None:
        """Reload what the page shows from the store (the project may be None)."""

    def on_stage_succeeded(self, stage: str, result: Any) -> None:
        """Called with the stage's typed result once its worker exited successfully."""

    def on_stage_cancelled(self, stage: str) -> None:
        """Called once a run stopped at the user's request (it can be resumed)."""
        self.banner.show_info(
            f"The {stage} run was stopped; what it finished is kept.",
            "Start it again to continue where it stopped.",
        )

    def on_stage_failed(self, stage: str, error: dict[str, Any]) -> None:
        """Called after a failed run was shown (banner or error dialog)."""

    def open_runs(self) -> QDialog | None:
        """The runs view of this page's stage (of the whole project on the project page)."""
        from desktop.widgets.runs_view import RunsDialog

        if self.context.project_dir is None:
            self.banner.show_error("No project is open.", "Open or create a project first.")
            return None
        dialog = RunsDialog(self.context, None if self.stage is None else self.stage.key, self)
        dialog.show()
        return dialog

    # -- jobs ------------------------------------------------------------------------------

    def start_stage(
        self, stage: Stage[Any, Any], config: Any, *, run_id: str | None = None
    ) -> StageWorker:
        """Run ``stage`` with ``config`` in the worker process (``run_id``: resume it).

        The job panel follows it; a user error lands in the banner, a crash in the error
        dialog; ``context.stages_changed`` is emitted when it ends. If it cannot even start
        (no project, a run already going), the banner says so and the returned worker is
        not running.
        """
        if self.worker is not None and self.worker.is_running():
            self.banner.show_warning(
                "A job is already running on this page.", "Wait for it or cancel it first."
            )
            return self.worker
        worker = StageWorker(self)
        key = stage.key
        worker.succeeded.connect(lambda result: self.on_stage_succeeded(key, result))
        worker.cancelled.connect(lambda: self.on_stage_cancelled(key))
        worker.failed.connect(lambda error: self._failed(key, error))
        worker.finished.connect(self._finished)
        self.banner.clear()
        if self.context.project_dir is None:
            self.banner.show_error("No project is open.", "Open or create a project first.")
            return worker
        try:
            self.job_panel.attach(worker)
            worker.start(self.context.project_dir, stage, config, run_id=run_id)
        except UserError as exc:
            self.job_panel.detach()
            self.job_panel.hide()
            self.banner.show_user_error(exc)
            return worker
        self.worker = worker
        self.context.stages_changed.emit()  # the sidebar shows the stage as running
        return worker

    def busy(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def cancel_job(self) -> None:
        """Ask the running job to stop (a second call kills it)."""
        if self.worker is not None:
            self.worker.cancel()

    def run_guarded(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Call a (fast) core function; a UserError goes to the banner and gives None.

        Anything else is a bug: it opens the error dialog (class and stack, no message,
        which may quote data) and also gives None.
        """
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            self.banner.show_user_error(exc)
        except Exception as exc:  # noqa: BLE001 — the GUI's boundary for a core call
            frames = "".join(traceback.format_tb(exc.__traceback__))
            kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
            # Not log.exception: the exception's message may quote row contents.
            log.error("unexpected %s in %s\n%s", kind, self.page_key(), frames)  # noqa: TRY400
            show_error_dialog(
                self,
                f"Stillroom hit an unexpected problem ({type(exc).__name__}). "
                "Your project is unchanged past its last saved step.",
                f"page: {self.page_key()}\nerror: {kind}\n\n{frames}",
                None,
            )
        return None

    # -- internals -------------------------------------------------------------------------

    def _failed(self, stage: str, error: dict[str, Any]) -> None:
        if error.get("user_error"):
            self.banner.show_error(str(error.get("message", "")), str(error.get("hint", "")))
        else:
            log_path = Path(error["log"]) if error.get("log") else None
            run_id = self.worker.run_id if self.worker is not None else None
            show_error_dialog(
                self,
                f"The {stage} stage stopped on an unexpected error. "
                "What it finished is kept and the run can be resumed.",
                f"stage: {stage}\nrun: {run_id}\nerror: {error.get('error_class')}\n"
                f"exit code: {error.get('exit_code')}",
                log_path,
            )
        self.on_stage_failed(stage, error)

    def _finished(self) -> None:
        self.context.stages_changed.emit()

    def _on_context_changed(self) -> None:
        if self.isVisible():
            self._stale = False
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()
