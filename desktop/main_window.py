"""The main window: the stage sidebar, one page per stage, the status bar and the menus.

The sidebar shows every stage's state (``core.stage_states``) with the reason as its
tooltip; a stage opens once the one before it has a result, and finished stages stay
browsable. Closing the window while a job runs asks first, then cancels it cleanly.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from core.errors import UserError
from core.jobs.registry import PIPELINE
from core.stage_states import STATE_TEXT, StageState, stage_states
from desktop.context import AppContext
from desktop.pages.base import StagePage
from desktop.resources import icon

# The sidebar: the project page, then one page per stage of the pipeline (core's registry),
# as (page key, title); window.states is keyed by page key.
STAGES: tuple[tuple[str, str], ...] = (
    ("project", "Project"),
    *((stage.page, stage.title) for stage in PIPELINE),
)
_STATE_KEY = {"project": "project", **{stage.page: stage.key for stage in PIPELINE}}
_KEY_ROLE = Qt.ItemDataRole.UserRole
_CLOSE_WAIT_MS = 60_000  # a clean stop checkpoints first; training may need a while


def window_title(project_name: str) -> str:
    """The window's title for an open project. Qt adds the application's display name to
    the caption itself (" — Stillroom"), so the title names it only where none is set."""
    app = QApplication.instance()
    named = isinstance(app, QApplication) and app.applicationDisplayName() == "Stillroom"
    return project_name if named else f"Stillroom — {project_name}"


def load_page_class(key: str) -> type[StagePage]:
    """The ``<Key>Page`` class of ``desktop/pages/<key>_page.py``: a stage's page is found
    from its descriptor's ``page``, so no list of pages is kept here."""
    module = importlib.import_module(f"desktop.pages.{key}_page")
    page_class: type[StagePage] = getattr(module, f"{key.capitalize()}Page")
    return page_class


class MainWindow(QMainWindow):
    """Sidebar of stages, a stack of pages, the status bar (project and device)."""

    def __init__(self, context: AppContext | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context if context is not None else AppContext(parent=self)
        self.setWindowTitle("Stillroom")
        self.setWindowIcon(icon("stillroom"))
        self.resize(1200, 780)
        self.setMinimumSize(QSize(900, 600))
        self.pages: dict[str, QWidget] = {}
        self.states: dict[str, str] = {}
        self.sidebar = QListWidget(self)
        self.stack = QStackedWidget(self)
        self._build_body()
        self._build_status_bar()
        self._build_menus()
        self._build_shortcuts()
        self.context.project_changed.connect(self._on_project_changed)
        self.context.stages_changed.connect(self.refresh_states)
        self.context.device_changed.connect(self._show_device)
        self._on_project_changed()
        self.sidebar.setCurrentRow(0)

    # -- layout ----------------------------------------------------------------------------

    def _build_body(self) -> None:
        self.sidebar.setObjectName("stageSidebar")
        self.sidebar.setIconSize(QSize(18, 18))
        self.sidebar.setFixedWidth(200)
        self.sidebar.setAccessibleName("Stages")
        for index, (key, title) in enumerate(STAGES):
            # Pages are built when first shown: the window opens without loading them all.
            self.stack.addWidget(QWidget(self.stack))
            item = QListWidgetItem(f"{index + 1}  {title}")
            item.setData(_KEY_ROLE, key)
            item.setSizeHint(QSize(180, 40))
            self.sidebar.addItem(item)
        self.sidebar.currentRowChanged.connect(self._switch_to_row)
        body = QWidget(self)
        body.setObjectName("windowBody")
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.sidebar)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(body)

    def _build_status_bar(self) -> None:
        self.project_label = QLabel(self)
        self.project_label.setObjectName("statusProject")
        self.device_label = QLabel(self)
        self.device_label.setObjectName("statusDevice")
        self.device_label.setToolTip("Where training and evaluation run")
        self.statusBar().addWidget(self.project_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)
        known = self.context.cached_device_label()
        self._show_device(known or "finding device…")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        new = QAction("&New project…", self, shortcut=QKeySequence.StandardKey.New)
        new.triggered.connect(self.new_project)
        open_ = QAction("&Open project…", self, shortcut=QKeySequence.StandardKey.Open)
        open_.triggered.connect(self.open_project_dialog)
        file_menu.addAction(new)
        file_menu.addAction(open_)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        quit_ = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_.triggered.connect(self.close)
        file_menu.addAction(quit_)

    def _build_shortcuts(self) -> None:
        for index, (key, title) in enumerate(STAGES):
            action = QAction(f"Go to {title}", self)
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            action.triggered.connect(lambda _checked=False, k=key: self.show_stage(k))
            self.addAction(action)

    # -- navigation ------------------------------------------------------------------------

    def show_stage(self, key: str) -> bool:
        """Switch to a stage's page; False (and a status message) if it is locked."""
        row = [k for k, _ in STAGES].index(key)
        item = self.sidebar.item(row)
        if not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.statusBar().showMessage(f"{STAGES[row][1]}: {item.toolTip()}", 5000)
            return False
        self.sidebar.setCurrentRow(row)
        return True

    def current_stage(self) -> str:
        return STAGES[max(self.sidebar.currentRow(), 0)][0]

    def page(self, key: str) -> QWidget:
        """The stage's page, built on first use."""
        if key not in self.pages:
            row = [k for k, _ in STAGES].index(key)
            slot = self.stack.widget(row)
            page = load_page_class(key)(self.context)
            self.stack.insertWidget(row, page)
            self.stack.removeWidget(slot)
            slot.deleteLater()
            self.pages[key] = page
        return self.pages[key]

    def _switch_to_row(self, row: int) -> None:
        if row >= 0:
            self.stack.setCurrentWidget(self.page(STAGES[row][0]))

    # -- states ----------------------------------------------------------------------------

    def refresh_states(self) -> None:
        """Re-read every stage's state from the store and redraw the sidebar."""
        states: dict[str, StageState]
        if self.context.project_dir is None:
            states = {
                key: StageState("locked", "Open or create a project first.")
                for key, _ in STAGES[1:]
            }
            states["project"] = StageState("not_started", "Create a project or open one.")
        else:
            try:
                with self.context.project() as project:
                    by_stage = stage_states(project)
            except UserError as exc:
                self.statusBar().showMessage(exc.one_line(), 10_000)
                return
            states = {page: by_stage[key] for page, key in _STATE_KEY.items()}
        for row, (key, title) in enumerate(STAGES):
            self._show_state(self.sidebar.item(row), key, title, states[key])
        if not self.sidebar.currentItem() or not (
            self.sidebar.currentItem().flags() & Qt.ItemFlag.ItemIsEnabled
        ):
            self.sidebar.setCurrentRow(0)

    def _show_state(self, item: QListWidgetItem, key: str, title: str, state: StageState) -> None:
        name, reason = state.state, state.reason
        self.states[key] = name
        item.setIcon(icon(f"state-{name}"))
        item.setToolTip(f"{STATE_TEXT[name]}: {reason}")
        item.setStatusTip(reason)
        enabled = name != "locked"
        flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
        item.setFlags(flags if enabled else Qt.ItemFlag.NoItemFlags)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{title}, {STATE_TEXT[name]}")
        item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, reason)

    def _on_project_changed(self) -> None:
        path = self.context.project_dir
        if path is None:
            self.setWindowTitle("Stillroom")
            self.project_label.setText("No project open")
        else:
            self.setWindowTitle(window_title(path.name))
            self.project_label.setText(f"Project: {path}")
        self.project_label.setToolTip("" if path is None else str(path))
        self.refresh_states()

    def _show_device(self, label: str) -> None:
        self.device_label.setText(f"Device: {label}")

    # -- projects --------------------------------------------------------------------------

    def new_project(self) -> None:
        """Go to the project page's new-project form."""
        self.show_stage("project")
        start = getattr(self.page("project"), "start_new_project", None)
        if callable(start):
            start()

    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Stillroom project")
        if folder:
            self.open_project(Path(folder))

    def open_project(self, path: Path) -> bool:
        """Open ``path``; a problem shows in the project page's banner (never a modal)."""
        try:
            self.context.open_project(path)
        except UserError as exc:
            self.show_stage("project")
            banner = getattr(self.page("project"), "banner", None)
            if banner is not None:
                banner.show_user_error(exc)
            else:
                self.statusBar().showMessage(exc.one_line(), 10_000)
            return False
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.context.recent_projects()
        if not recent:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        for path in recent:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self.open_project(p))

    # -- closing ---------------------------------------------------------------------------

    def busy_pages(self) -> list[StagePage]:
        return [p for p in self.pages.values() if isinstance(p, StagePage) and p.busy()]

    def closeEvent(self, event: QCloseEvent) -> None:
        busy = self.busy_pages()
        if busy and not self._confirm_stop(busy):
            event.ignore()
            return
        for page in busy:
            page.cancel_job()
        for page in busy:
            worker = page.worker
            if worker is not None and not worker.wait_finished(_CLOSE_WAIT_MS):
                worker.cancel()  # the second cancel kills; the run stays resumable
                worker.wait_finished(5_000)
        event.accept()

    def _confirm_stop(self, busy: list[StagePage]) -> bool:
        names = ", ".join(page.title for page in busy)
        answer = QMessageBox.question(
            self,
            "Stop the running job?",
            f"{names} is still running. Stillroom will stop it cleanly (what is done is "
            "kept, and you can resume it later) and then close.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes
