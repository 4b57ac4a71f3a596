"""The runs view (issue 20): a stage's runs (or the project's), two of them compared, and
the student Evaluate and Export use chosen.

Fed from ``core.jobs.history`` (run summaries, a comparison) and ``core.train.chosen``; the
dialog opens the project for each read and computes nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from core.jobs.history import RunComparison, RunSummary
from desktop.context import AppContext
from desktop.widgets.banner import InlineBanner

COLUMNS = ("Run", "Status", "Started", "Duration", "Who", "Settings chosen", "Key figures")
_CURVES = {"loss": "train loss", "eval_loss": "val loss", "eval_accuracy": "val acc"}
_COLOURS = ("#2f6fb3", "#d9822b", "#2e8b57")


def _short(value: str) -> str:
    """A path's last two parts: enough to tell two runs apart on one line."""
    return "…/" + "/".join(value.split("/")[-2:]) if value.count("/") > 2 else value


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class RunsTable(QTableWidget):
    """One row per run; select two to compare."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("runsTable")
        self.setAccessibleName("runs")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.verticalHeader().setVisible(False)
        self.setWordWrap(False)  # one line per run; the whole text is the cell's tooltip
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.setToolTip("Select two runs (Ctrl+click) and press Compare.")
        self.runs: list[RunSummary] = []

    def show_runs(self, runs: Sequence[RunSummary]) -> None:
        self.runs = list(runs)
        self.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            name = f"★ {run.id}" if run.chosen else run.id
            settings = ", ".join(f"{k}={_short(v)}" for k, v in run.settings)
            values = (name, run.status, (run.started or "")[:19].replace("T", " "),
                      duration_text(run.seconds), run.who, settings, run.headline)  # fmt: skip
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value.replace(", ", "\n") if column == 5 else value)
                if run.chosen and column == 0:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.setItem(row, column, item)
        header = self.horizontalHeader()
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Interactive)
        self.resizeColumnsToContents()
        self.setColumnWidth(5, min(self.columnWidth(5), 300))
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)

    def selected_runs(self) -> list[RunSummary]:
        rows = sorted({index.row() for index in self.selectedIndexes()})
        return [self.runs[row] for row in rows if row < len(self.runs)]


class ComparisonView(QWidget):
    """Two runs side by side: settings that differ, figures, per-class, calibration, and
    their training curves overlaid (the second run dashed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("comparisonTable")
        self.table.setAccessibleName("two runs compared")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.chart = QChartView(self)
        self.chart.setObjectName("comparisonChart")
        self.chart.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart.setMinimumHeight(240)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.chart, 2)
        self.comparison: RunComparison | None = None

    def show_comparison(self, comparison: RunComparison) -> None:
        self.comparison = comparison
        self.table.setHorizontalHeaderLabels(
            ["", f"1: {comparison.first.id}", f"2: {comparison.second.id}"]
        )
        sections = (("Settings that differ", comparison.settings),
                    ("Figures", comparison.figures), ("Per class (test)", comparison.per_class),
                    ("Calibration (test)", comparison.calibration))  # fmt: skip
        rows: list[tuple[str, str, str, bool]] = []
        for title, content in sections:
            if content:
                rows.append((title, "", "", True))
                rows += [(name, a, b, False) for name, a, b in content]
        self.table.setRowCount(len(rows))
        for row, (name, first, second, heading) in enumerate(rows):
            for column, value in enumerate((name, first, second)):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if heading:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                elif column and first != second:
                    item.setBackground(QColor("#fff4d6"))  # where the two differ
                self.table.setItem(row, column, item)
        self._draw_curves(comparison)

    def _draw_curves(self, comparison: RunComparison) -> None:
        chart = QChart()
        chart.setTitle("Training curves: run 1 solid, run 2 dashed")
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)
        x_axis, y_axis = QValueAxis(), QValueAxis()
        x_axis.setTitleText("Step")
        x_axis.setLabelFormat("%d")
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        values: list[float] = []
        steps: list[int] = []
        for colour, (name, label) in zip(_COLOURS, _CURVES.items(), strict=True):
            for dashed, points in enumerate(comparison.curves.get(name, ((), ()))):
                if not points:
                    continue
                series = QLineSeries()
                series.setName(f"{label} {'2' if dashed else '1'}")
                pen = QPen(QColor(colour), 2)
                pen.setStyle(Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                series.setPen(pen)
                series.replace([QPointF(step, value) for step, value in points])
                chart.addSeries(series)
                series.attachAxis(x_axis)
                series.attachAxis(y_axis)
                values += [value for _, value in points]
                steps += [step for step, _ in points]
        if values:
            x_axis.setRange(0, max(steps))
            x_axis.applyNiceNumbers()
            y_axis.setRange(min(0.0, min(values)), max(values) * 1.05 or 1.0)
            y_axis.applyNiceNumbers()
        else:
            chart.setTitle("No training curves: compare two training runs to see them")
        self.chart.setChart(chart)


class RunsView(QWidget):
    """The table, Compare, Use this student, and the comparison under them."""

    compare_requested = Signal(str, str)
    choose_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = RunsTable(self)
        self.compare_button = QPushButton("&Compare the two selected runs", self)
        self.compare_button.setObjectName("compareRuns")
        self.choose_button = QPushButton("&Use this student for Evaluate and Export", self)
        self.choose_button.setObjectName("chooseStudent")
        self.choose_button.setToolTip(
            "Evaluate and Export use the newest trained student unless you choose another "
            "here. The choice is kept in the project and written to the audit log."
        )
        self.compare_button.clicked.connect(self._compare)
        self.choose_button.clicked.connect(self._choose)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.comparison = ComparisonView(self)
        self.comparison.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.choose_button)
        buttons.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.comparison)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)  # the comparison, once shown, gets the room
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        self._update_buttons()

    def show_runs(self, runs: Sequence[RunSummary]) -> None:
        self.table.show_runs(runs)
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.table.selected_runs()
        self.compare_button.setEnabled(len(chosen) == 2)
        train = len(chosen) == 1 and chosen[0].stage == "train" and chosen[0].status == "succeeded"
        self.choose_button.setEnabled(train and not chosen[0].chosen)

    def _compare(self) -> None:
        chosen = self.table.selected_runs()
        if len(chosen) == 2:
            older, newer = sorted(chosen, key=lambda r: r.started or "")
            self.compare_requested.emit(older.id, newer.id)

    def _choose(self) -> None:
        chosen = self.table.selected_runs()
        if len(chosen) == 1:
            self.choose_requested.emit(chosen[0].id)


class RunsDialog(QDialog):
    """A stage's runs (``stage_key``) or every run of the project (None)."""

    def __init__(self, context: AppContext, stage_key: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.context, self.stage_key = context, stage_key
        self.setObjectName("runsDialog")
        self.setWindowTitle(f"Runs: {stage_key}" if stage_key else "Runs: the whole project")
        self.resize(1100, 640)
        self.intro = QLabel(
            "Every run of this stage, newest first: what was chosen, how it went and its key "
            "figures (95% intervals in brackets). Select two to compare them. ★ marks the "
            "student that Evaluate and Export use."
            if stage_key else "Every run of the project, newest first. Select two to compare. "
            "★ marks the student that Evaluate and Export use.",
            self,
        )  # fmt: skip
        self.intro.setWordWrap(True)
        self.banner = InlineBanner(self)
        self.view = RunsView(self)
        self.view.choose_button.setVisible(stage_key in (None, "train"))
        self.view.compare_requested.connect(self.compare)
        self.view.choose_requested.connect(self.choose)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        layout.addWidget(close)
        self.reload()

    def reload(self) -> None:
        from core.jobs.history import run_history

        try:
            with self.context.project() as project:
                self.view.show_runs(run_history(project, self.stage_key))
        except UserError as exc:
            self.banner.show_user_error(exc)

    def compare(self, first: str, second: str) -> None:
        from core.jobs.history import compare_runs

        try:
            with self.context.project() as project:
                comparison = compare_runs(project, first, second)
        except UserError as exc:
            self.banner.show_user_error(exc)
            return
        self.view.comparison.show_comparison(comparison)
        self.view.comparison.show()

    def choose(self, run_id: str) -> None:
        from core.train.chosen import choose_student

        try:
            with self.context.project() as project:
                choose_student(project, run_id)
        except UserError as exc:
            self.banner.show_user_error(exc)
            return
        self.banner.show_info(
            f"Evaluate and Export now use the student of {run_id}.",
            "Evaluate it before exporting; the choice is in the audit log.",
        )
        self.reload()
        self.context.stages_changed.emit()
