"""The project page: create or open a project; its task, labels and quality floor; and the
"is distillation worth it" calculator.

Two views: *start* (new project, open, recent) while no project is open or when the user
asks for another one, and *project* (settings, floor, calculator) for the open project.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, QStandardPaths, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from desktop.pages.base import StagePage
from desktop.widgets.floor_form import FLOOR_EXPLANATION, FloorForm
from desktop.widgets.form_fields import primary_button
from desktop.widgets.scroll_body import scroll_around
from desktop.widgets.worth_it_form import WorthItForm

RECENT_ROWS = 6
TASK_CHOICES = (
    ("classification", "Classification: sort each text into one of a set of labels"),
    ("generation", "Generation: write a text answer to each input"),
)


class CurrentViewStack(QStackedWidget):
    """A stack as tall as the view it shows. QStackedLayout sizes itself by the tallest of
    all its views, so the short start view would scroll to the project view's length."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Its layout must not pin the stack's minimum to the tallest view either.
        self.layout().setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)

    def sizeHint(self) -> QSize:
        current = self.currentWidget()
        return current.sizeHint() if current is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:
        current = self.currentWidget()
        return current.minimumSizeHint() if current is not None else super().minimumSizeHint()

    def heightForWidth(self, width: int) -> int:
        current = self.currentWidget()
        return current.heightForWidth(width) if current is not None else -1


class ProjectPage(StagePage):
    title = "Project"

    def build(self) -> None:
        self.views = CurrentViewStack(self)
        self.start_view = self._build_start_view()
        self.project_view = self._build_project_view()
        self.views.addWidget(self.start_view)
        self.views.addWidget(self.project_view)
        scroll_around(self, self.body_layout, self.views)

    # -- start view: new, open, recent ----------------------------------------------------

    def _build_start_view(self) -> QWidget:
        view = QWidget(self)
        self.new_box = QGroupBox("Create a new project", view)
        self.name_edit = QLineEdit(self.new_box)
        self.name_edit.setPlaceholderText("e.g. triage-messages")
        self.name_edit.setToolTip("The project folder's name; it is created for you.")
        self.location_edit = QLineEdit(_default_location(), self.new_box)
        self.location_edit.setToolTip("The folder the project folder is created in.")
        browse = QPushButton("Browse…", self.new_box)
        browse.setToolTip("Choose where to create the project folder")
        browse.clicked.connect(self._browse_location)
        location = QHBoxLayout()
        location.addWidget(self.location_edit, 1)
        location.addWidget(browse)
        self.task_combo = QComboBox(self.new_box)
        for key, text in TASK_CHOICES:
            self.task_combo.addItem(text, key)
        self.task_combo.setToolTip("What the model does; fixed once the project exists.")
        self.task_combo.currentIndexChanged.connect(self._task_changed)
        self.labels_edit = QLineEdit(self.new_box)
        self.labels_edit.setPlaceholderText("e.g. billing, clinical, other (or leave empty)")
        self.labels_edit.setToolTip(
            "The labels, separated by commas. Leave empty to take them from the label "
            "column of the first data you import."
        )
        self.new_floor = FloorForm(self.new_box)
        self.create_button = primary_button(
            "Create project", "Create the project folder with these settings", self.new_box
        )
        self.create_button.clicked.connect(self.create_project)
        form = _form(self.new_box)
        form.addRow("Name", self.name_edit)
        form.addRow("Create in", location)
        form.addRow("Task", self.task_combo)
        form.addRow("Labels", self.labels_edit)
        form.addRow(_explanation(FLOOR_EXPLANATION, self.new_box))
        form.addRow("Quality floor", self.new_floor)
        form.addRow("", self.create_button)
        open_box = QGroupBox("Open a project", view)
        open_button = QPushButton("Open a project folder…", open_box)
        open_button.setToolTip("Choose a folder that holds a Stillroom project")
        open_button.clicked.connect(self._browse_project)
        self.recent_list = QListWidget(open_box)
        self.recent_list.setObjectName("recentProjects")
        self.recent_list.setToolTip("Recently opened projects: double-click or press Enter")
        self.recent_list.setAccessibleName("Recent projects")
        self.recent_list.itemActivated.connect(self._open_recent)
        self.back_button = QPushButton("Back to the open project", open_box)
        self.back_button.setToolTip("Return to the settings of the project that is open")
        self.back_button.clicked.connect(self.refresh)
        column = QVBoxLayout(open_box)
        column.addWidget(open_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(QLabel("Recent projects", open_box))
        column.addWidget(self.recent_list)
        column.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(view)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.new_box)
        layout.addWidget(open_box)
        layout.addStretch(1)
        return view

    # -- project view: settings, floor, calculator ---------------------------------------

    def _build_project_view(self) -> QWidget:
        view = QWidget(self)
        about = QGroupBox("This project", view)
        self.folder_label = _value_label(about)
        self.task_label = _value_label(about)
        self.labels_label = _value_label(about)
        other = QPushButton("New or other project…", about)
        other.setToolTip("Create a new project or open another one")
        other.clicked.connect(self.start_new_project)
        form = _form(about)
        form.addRow("Folder", self.folder_label)
        form.addRow("Task", self.task_label)
        form.addRow("Labels", self.labels_label)
        form.addRow("", other)
        floor_box = QGroupBox("Quality floor", view)
        self.floor_form = FloorForm(floor_box)
        self.floor_form.changed.connect(self._floor_edited)
        self.floor_locked_label = _explanation("", floor_box)
        self.floor_locked_label.setObjectName("floorLocked")
        self.save_floor_button = QPushButton("Save floor", floor_box)
        self.save_floor_button.setToolTip("Store the new floor (recorded in the audit log)")
        self.save_floor_button.clicked.connect(self.save_floor)
        floor_column = QVBoxLayout(floor_box)
        floor_column.addWidget(_explanation(FLOOR_EXPLANATION, floor_box))
        floor_column.addWidget(self.floor_form)
        floor_column.addWidget(self.floor_locked_label)
        floor_column.addWidget(self.save_floor_button, 0, Qt.AlignmentFlag.AlignLeft)
        worth_box = QGroupBox("Is distillation worth it?", view)
        self.worth_it = WorthItForm(worth_box)
        self.worth_it.changed.connect(lambda: self.save_worth_it_button.setEnabled(True))
        self.save_worth_it_button = QPushButton("Save these figures", worth_box)
        self.save_worth_it_button.setToolTip(
            "Keep the figures with the project; the evaluate page compares the student to them"
        )
        self.save_worth_it_button.clicked.connect(self.save_worth_it)
        worth_column = QVBoxLayout(worth_box)
        worth_column.addWidget(
            _explanation(
                "A student pays off when it answers fast enough and costs less to run than "
                "the teacher's fees. Enter what you know today; a figure you leave at 'not "
                "entered' is never guessed. After an evaluation the measured figures of the "
                "file that ships appear beside them.",
                worth_box,
            )
        )
        worth_column.addWidget(self.worth_it)
        worth_column.addWidget(self.save_worth_it_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(view)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(about)
        layout.addWidget(floor_box)
        layout.addWidget(worth_box)
        layout.addStretch(1)
        return view

    # -- refresh ---------------------------------------------------------------------------

    def refresh(self) -> None:
        self._fill_recent()
        if not self.context.has_project():
            self.back_button.hide()
            self._show_view(self.start_view)
            return
        self.run_guarded(self._load_project)

    def _load_project(self) -> None:
        from core.evaluate.worth_it import load_inputs, measured_student
        from core.floor import floor_locked_reason

        with self.context.project() as project:
            settings = project.settings
            locked = floor_locked_reason(project)
            inputs = load_inputs(project)
            measured = measured_student(project)
        self.folder_label.setText(str(self.context.project_dir))
        self.task_label.setText(settings.task)
        self.labels_label.setText(
            ", ".join(settings.labels)
            if settings.labels
            else ("(none: a generation task)" if settings.task == "generation" else
                  "(taken from the first import)")
        )  # fmt: skip
        self.floor_form.set_floor(settings.floor)
        self.floor_form.set_read_only(locked is not None)
        self.floor_locked_label.setText(locked or "You can still change the floor: no "
                                        "student has been trained yet.")  # fmt: skip
        self.save_floor_button.setVisible(locked is None)
        self.save_floor_button.setEnabled(False)
        if inputs is not None:
            self.worth_it.set_inputs(inputs)
        self.worth_it.set_measured(measured)
        self.save_worth_it_button.setEnabled(inputs is None)
        self._show_view(self.project_view)

    def _fill_recent(self) -> None:
        self.recent_list.clear()
        for path in self.context.recent_projects():
            item = QListWidgetItem(f"{path.name}    {path}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.recent_list.addItem(item)
        if self.recent_list.count() == 0:
            placeholder = QListWidgetItem("No recent projects yet")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent_list.addItem(placeholder)
        _fit_rows(self.recent_list)

    def _show_view(self, view: QWidget) -> None:
        self.views.setCurrentWidget(view)
        self.views.updateGeometry()

    # -- actions ---------------------------------------------------------------------------

    def start_new_project(self) -> None:
        """Show the new/open view (also with a project open) and focus the name field."""
        self.banner.clear()
        self._fill_recent()
        self.back_button.setVisible(self.context.has_project())
        self._show_view(self.start_view)
        self.name_edit.setFocus()

    def create_project(self) -> None:
        """Create the project from the form, then open it."""
        self.banner.clear()
        name = self.name_edit.text().strip()
        if not name:
            self.banner.show_error("Give the project a name.", "It becomes the folder's name.")
            self.name_edit.setFocus()
            return
        location = Path(self.location_edit.text().strip() or _default_location()).expanduser()
        labels = tuple(label.strip() for label in self.labels_edit.text().split(",") if label)
        labels = tuple(label for label in labels if label)
        task = str(self.task_combo.currentData())
        floor = self.new_floor.floor()
        if self.run_guarded(self._create, location / name, task, labels, floor):
            self.banner.show_info(
                f"Project {name} created.", "Next: import your data on the Data page."
            )

    def _create(self, path: Path, task: str, labels: tuple[str, ...], floor: object) -> bool:
        from core.project import QualityFloor

        assert isinstance(floor, QualityFloor)
        self.context.create_project(path, task, labels, floor)
        return True

    def open_project(self, path: Path) -> bool:
        """Open ``path``; a problem goes to the banner."""
        self.banner.clear()
        try:
            self.context.open_project(path)
        except UserError as exc:
            self.banner.show_user_error(exc)
            return False
        return True

    def save_floor(self) -> None:
        from core.floor import change_floor

        def save() -> bool:
            with self.context.project() as project:
                change_floor(project, self.floor_form.floor())
            return True

        self.banner.clear()
        if self.run_guarded(save):
            self.banner.show_info("The quality floor was saved.")
            self.save_floor_button.setEnabled(False)

    def save_worth_it(self) -> None:
        from core.evaluate.worth_it import save_inputs

        def save() -> bool:
            with self.context.project() as project:
                save_inputs(project, self.worth_it.inputs())
            return True

        self.banner.clear()
        if self.run_guarded(save):
            self.save_worth_it_button.setEnabled(False)

    def _floor_edited(self) -> None:
        self.save_floor_button.setEnabled(True)

    def _task_changed(self) -> None:
        generation = self.task_combo.currentData() == "generation"
        self.labels_edit.setEnabled(not generation)
        if generation:
            self.labels_edit.clear()

    def _browse_location(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Where to create the project", self.location_edit.text()
        )
        if folder:
            self.location_edit.setText(folder)

    def _browse_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Stillroom project")
        if folder:
            self.open_project(Path(folder))

    def _open_recent(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.open_project(Path(path))


def _fit_rows(view: QListWidget) -> None:
    """Between 3 and :data:`RECENT_ROWS` rows tall: a list as tall as the page would push
    the buttons under it out of sight; more projects scroll."""
    rows = min(max(view.count(), 3), RECENT_ROWS)
    row_height = view.sizeHintForRow(0) if view.count() else view.fontMetrics().height() + 4
    view.setFixedHeight(rows * row_height + 2 * view.frameWidth() + 4)


def _form(parent: QWidget) -> QFormLayout:
    """A form whose line edits widen with the window while buttons and spin boxes keep
    their natural size."""
    form = QFormLayout(parent)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    return form


def _default_location() -> str:
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return str(Path(documents or Path.home()) / "Stillroom projects")


def _explanation(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setProperty("role", "explanation")
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _value_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
