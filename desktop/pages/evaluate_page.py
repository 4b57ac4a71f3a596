"""The evaluate page: is the student good enough to ship?

The user picks what to compare and whether to time the models, starts the evaluate stage in
the worker process, and reads the verdict against the project's quality floor with the
figures behind it. Everything shown is the last finished evaluate run's stored result
(``latest(project, EVALUATE)``), so a reopened project shows it without evaluating again.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from core.commands.config_defaults import default
from core.errors import UserError
from core.evaluate.config import EvaluateConfig
from core.jobs.registry import EVALUATE
from core.project import QualityFloor
from desktop.pages.base import StagePage
from desktop.widgets.evaluation_results import EvaluationResults
from desktop.widgets.form_fields import checkbox, primary_button
from desktop.widgets.scroll_body import scrolling_body

_default = partial(default, EvaluateConfig)

if TYPE_CHECKING:
    from core.evaluate.config import EvaluateResult
    from core.evaluate.figures import ReliabilityCurve
    from core.jobs.runs import Finished

    Read = tuple[Finished[EvaluateResult] | None, tuple[ReliabilityCurve, ...], str, str]


def open_url(url: QUrl) -> bool:
    """Open ``url`` with the desktop's handler (a seam for tests)."""
    return QDesktopServices.openUrl(url)


class EvaluatePage(StagePage):
    """Options, the run button, and the last evaluation's verdict and figures."""

    stage = EVALUATE

    def build(self) -> None:
        content, column = scrolling_body(self, self.body_layout)
        self.intro = QLabel(
            "Compare the student with the teacher on data neither was trained on, and check "
            "it against the quality floor fixed when the project was created.",
            content,
        )
        self.intro.setWordWrap(True)
        self.intro.setProperty("role", "explanation")
        column.addWidget(self.intro)
        self.student_line = QLabel(content)
        self.student_line.setObjectName("chosenStudent")
        self.student_line.setWordWrap(True)
        self.student_line.setToolTip(
            "Evaluate and Export use the newest trained student unless another is chosen in "
            "the Train page's run history."
        )
        column.addWidget(self.student_line)
        column.addWidget(self._build_options(content))
        self.run_button = primary_button(
            "&Evaluate the student",
            "Score the student, the teacher and the chosen comparisons on the test and "
            "edge-case sets, fit a temperature, time them, and check the quality floor.",
            content,
        )
        self.run_button.clicked.connect(self.start_evaluation)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        self.placeholder = QLabel(content)
        self.placeholder.setWordWrap(True)
        self.placeholder.setProperty("role", "explanation")
        column.addWidget(self.placeholder)
        self.results = EvaluationResults(content)
        self.results.open_report_requested.connect(self.open_report)
        self.results.setMinimumHeight(520)
        column.addWidget(self.results, 1)
        # Takes the spare height while the results are hidden (before the first evaluation),
        # so the settings stay together at the top; shown results, with their stretch, win.
        column.addStretch(0)
        self.results.hide()

    def _build_options(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Settings", parent)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.baseline_check = checkbox(
            "Compare with the teacher quantized to INT8", _default("quantize_baseline"),
            "Also score the teacher itself through the same ONNX INT8 path as the student, "
            "without distillation: would quantizing the big model have been enough? Only for "
            "a local classifier teacher.", box,
        )  # fmt: skip
        self.onnx_check = checkbox(
            "Judge the file that ships (ONNX INT8)", _default("score_shipped"),
            "Export and quantize the student exactly as the export stage does, keep that "
            "file, and judge the floor on it: the export then ships this very file. Off: the "
            "PyTorch student is judged and the export scores the file it writes.", box,
        )  # fmt: skip
        self.bound_check = checkbox(
            "Judge the floor on the 95% interval's bound", _default("gate_on_lower_bound"),
            "Pass only when the floor holds with the uncertainty taken into account: the "
            "interval's lower bound for retention and the metric, its upper bound for ECE.",
            box,
        )  # fmt: skip
        self.strict_edge_check = checkbox(
            "The edge-case set decides the verdict too", _default("strict_edge"),
            "By default only the test set decides pass or fail; the edge-case set (rare "
            "labels, extreme lengths) is always shown. Tick to fail when it fails.", box,
        )  # fmt: skip
        for check in (self.baseline_check, self.onnx_check, self.bound_check,
                      self.strict_edge_check):  # fmt: skip
            form.addRow(check)
        self._add_speed_rows(form, box)
        return box

    def _add_speed_rows(self, form: QFormLayout, box: QGroupBox) -> None:
        self.latency_check = checkbox(
            "Measure speed and cost", _default("measure_latency"),
            "Time one request at a time (latency) and batches of 32 (throughput) on this "
            "machine's CPU, and cost a million requests from that.", box,
        )  # fmt: skip
        self.latency_runs = _spin(
            1, 10_000, _default("latency_runs"),
            "Timed single requests per model (more: steadier figures, longer run).", box,
        )  # fmt: skip
        self.threads = _spin(
            0, 256, 0,
            "CPU threads for scoring and timing. Automatic uses one per core; fewer is "
            "steadier on a busy shared machine.", box,
        )  # fmt: skip
        self.threads.setSpecialValueText("Automatic")
        self.hardware_cost = QDoubleSpinBox(box)
        self.hardware_cost.setRange(0.0, 100_000.0)
        self.hardware_cost.setDecimals(2)
        self.hardware_cost.setSpecialValueText("as entered on the Project page")
        self.hardware_cost.setValue(_default("hardware_cost_per_hour") or 0.0)
        self.hardware_cost.setToolTip(
            "What an hour of the serving hardware costs, in the currency set on the Project "
            "page: the cost per million requests and the break-even use it. Left at 0, the "
            "figure entered on the Project page is used; without one no cost is shown."
        )
        self.latency_check.toggled.connect(self.latency_runs.setEnabled)
        form.addRow(self.latency_check)
        form.addRow(_buddy("Timed &requests:", self.latency_runs, box), self.latency_runs)
        form.addRow(_buddy("CPU &threads:", self.threads, box), self.threads)
        form.addRow(_buddy("&Hardware cost per hour:", self.hardware_cost, box),
                    self.hardware_cost)  # fmt: skip

    # -- actions ---------------------------------------------------------------------------

    def config(self) -> EvaluateConfig:
        """The evaluate stage's config from the settings.

        Raises:
            EvaluateError: a value is out of range.
        """
        config = EvaluateConfig(
            hardware_cost_per_hour=self.hardware_cost.value() or None,
            latency_runs=self.latency_runs.value(),
            measure_latency=self.latency_check.isChecked(),
            quantize_baseline=self.baseline_check.isChecked(),
            strict_edge=self.strict_edge_check.isChecked(),
            gate_on_lower_bound=self.bound_check.isChecked(),
            threads=self.threads.value() or None,
            score_shipped=self.onnx_check.isChecked(),
        )
        config.validate()
        return config

    def start_evaluation(self) -> None:
        """Start the evaluate stage with the current settings."""
        self.banner.clear()
        try:
            config = self.config()
        except UserError as exc:
            self.banner.show_user_error(exc)
            return
        self.start_stage(EVALUATE, config)
        self._update_buttons()

    def open_report(self, path: Path) -> None:
        """Open the run's ``report.html`` in the browser."""
        if not path.is_file():
            self.banner.show_error(
                f"the report {path} is no longer there", "evaluate again to write a new one"
            )
            return
        if open_url(QUrl.fromLocalFile(str(path))):
            self.banner.show_info("The report opened in your browser.", str(path))
        else:
            self.banner.show_warning(
                f"No browser opened the report ({path})", "open that file in a browser yourself"
            )

    def on_stage_succeeded(self, stage: str, result: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        self._update_buttons()
        if self.context.project_dir is None:
            self._show_nothing("Open a project to evaluate its student.")
            return
        read = self.run_guarded(self._read)
        if read is None:
            self._show_nothing("The last evaluation cannot be read (see the message above).")
            return
        found, curves, floor, student = read
        self.student_line.setText(student)
        if found is None:
            self._show_nothing(
                "No evaluation yet. Evaluate the student to see whether it meets the quality "
                f"floor set for this project ({floor})."
            )
            return
        self.placeholder.hide()
        self.results.show_result(found.result, found.run.finished, curves)
        self.results.show()

    def _read(self) -> Read:
        from core.evaluate.figures import read_reliability
        from core.jobs.runs import latest
        from core.train.chosen import chosen_run_id, chosen_student

        with self.context.project() as project:
            student = chosen_student(project)
            found = None
            if student is not None:
                folder = student.result.model_dir.resolve()
                found = latest(project, EVALUATE,
                               where=lambda r: r.student_dir.resolve() == folder)  # fmt: skip
            found = found or latest(project, EVALUATE)
            floor = _floor_text(project.settings.floor)
            picked = student is not None and chosen_run_id(project) == student.run.id
        curves = () if found is None else tuple(read_reliability(found.result.reliability_file))
        return found, curves, floor, _student_text(student, picked, found)

    # -- helpers ---------------------------------------------------------------------------

    def _show_nothing(self, text: str) -> None:
        self.results.hide()
        self.placeholder.setText(text)
        self.placeholder.show()

    def _update_buttons(self) -> None:
        has_project = self.context.project_dir is not None
        self.run_button.setEnabled(has_project and not self.busy())


def _student_text(student: Any, picked: bool, found: Any) -> str:
    if student is None:
        return "No student is trained yet."
    how = "chosen in the run history" if picked else "the newest"
    text = f"Student: the model trained by {student.run.id} ({how})."
    if found is not None and found.result.student_dir.resolve() != (
        student.result.model_dir.resolve()
    ):
        text += " It has not been evaluated yet: the figures below are of another student."
    return text


def _floor_text(floor: QualityFloor) -> str:
    parts = [f"retention at least {floor.min_retention:g}"]
    if floor.min_metric is not None:
        parts.append(f"metric at least {floor.min_metric:g}")
    if floor.max_ece is not None:
        parts.append(f"calibration error at most {floor.max_ece:g}")
    return ", ".join(parts)


def _spin(low: int, high: int, value: int, tip: str, parent: QWidget) -> QSpinBox:
    spin = QSpinBox(parent)
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def _buddy(text: str, widget: QWidget, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setBuddy(widget)
    label.setToolTip(widget.toolTip())
    return label
