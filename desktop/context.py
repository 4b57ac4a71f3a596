"""The application's shared state: which project is open, and the signals pages refresh on.

The window never keeps a :class:`~core.project.Project` open: the worker process writes the
same store, so pages take a short-lived handle (``with context.project() as p``) to read it.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from core.errors import NotAProjectError, ProjectError
from core.project import Project, QualityFloor, is_project

RECENT_KEY = "projects/recent"
RECENT_LIMIT = 8


class AppContext(QObject):
    """The open project, the recent-projects list and the device, shared by every page."""

    project_changed = Signal()
    stages_changed = Signal()
    device_changed = Signal(str)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir: Path | None = None
        self._settings = settings if settings is not None else QSettings()
        self._device: str | None = None
        self._probe: threading.Thread | None = None

    # -- projects --------------------------------------------------------------------------

    def open_project(self, path: Path) -> None:
        """Make ``path`` the open project and remember it in the recent list.

        Raises:
            NotAProjectError: the folder holds no Stillroom store.
            UserError: the store cannot be opened (locked, too new, unreadable).
        """
        path = Path(path).expanduser().resolve()
        if not is_project(path):
            raise NotAProjectError(
                f"{path} is not a Stillroom project",
                "choose the folder that holds stillroom.db, or create a new project",
            )
        from core.jobs.runs import reconcile_runs

        # Opening once checks the store (and migrates it) before the pages read it; runs
        # whose worker died while the window was closed are marked interrupted here.
        with Project.open(path) as project:
            reconcile_runs(project)
        self.project_dir = path
        self._remember(path)
        self.project_changed.emit()

    def create_project(
        self, path: Path, task: str, labels: tuple[str, ...] | list[str], floor: QualityFloor
    ) -> None:
        """Create a project folder with its settings, then open it.

        Raises:
            ProjectError: the folder already holds files or a project.
            UserError: the task, labels or floor are invalid.
        """
        Project.create(Path(path), task=task, labels=tuple(labels), floor=floor).close()
        self.open_project(Path(path))

    def close_project(self) -> None:
        """Forget the open project (the recent list keeps it)."""
        if self.project_dir is not None:
            self.project_dir = None
            self.project_changed.emit()

    @contextmanager
    def project(self) -> Iterator[Project]:
        """A short-lived handle on the open project: ``with ctx.project() as p: ...``.

        Raises:
            ProjectError: no project is open.
        """
        if self.project_dir is None:
            raise ProjectError("no project is open", "open or create a project first")
        with Project.open(self.project_dir) as project:
            yield project

    def has_project(self) -> bool:
        return self.project_dir is not None

    def recent_projects(self) -> list[Path]:
        """Recently opened projects that still exist, newest first."""
        return [path for path in self._recent() if is_project(path)]

    def _recent(self) -> list[Path]:
        raw = self._settings.value(RECENT_KEY, [])
        values = [raw] if isinstance(raw, str) else list(raw or [])
        return [Path(value) for value in values if value]

    def _remember(self, path: Path) -> None:
        recent = [path, *(p for p in self._recent() if p != path)][:RECENT_LIMIT]
        self._settings.setValue(RECENT_KEY, [str(p) for p in recent])
        self._settings.sync()

    # -- device ----------------------------------------------------------------------------

    def device_label(self) -> str:
        """``"CPU"`` or ``"GPU: <name>"``. Imports torch the first time: prefer
        :meth:`probe_device` on the UI thread, which answers through ``device_changed``."""
        if self._device is None:
            self._device = _detect_device()
        return self._device

    def cached_device_label(self) -> str | None:
        """The device label if it is known already (never imports anything)."""
        return self._device

    def set_device_label(self, label: str) -> None:
        """Set the label without probing (tests; a device chosen elsewhere)."""
        self._device = label
        self.device_changed.emit(label)

    def probe_device(self) -> None:
        """Find the device on a background thread (torch takes seconds to import), then
        emit ``device_changed``. Does nothing if the label is known or a probe runs."""
        if self._device is not None:
            self.device_changed.emit(self._device)
            return
        if self._probe is not None:
            return

        def probe() -> None:
            label = _detect_device()
            # torch's long-lived objects would make every full collection stall the UI.
            gc.freeze()
            self._device = label
            # The window may be gone by the time torch has loaded.
            with contextlib.suppress(RuntimeError):
                self.device_changed.emit(label)

        self._probe = threading.Thread(target=probe, name="stillroom-device-probe", daemon=True)
        self._probe.start()


def _detect_device() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)}"
    except Exception:  # noqa: BLE001 — a broken CUDA install still leaves the CPU usable
        return "CPU"
    return "CPU"
