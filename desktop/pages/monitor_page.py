"""The Monitor page: judge a served bundle's prediction log, see its windows over time and its
alerts, and re-distil the student on production traffic.

"Judge the log" runs the MONITOR stage (import the log, then every window's figures) in the
worker process; "Re-distill now" runs REDISTILL, whose steps (anonymize, teach, train,
evaluate, export) follow in the same job panel. The worst-drifting requests are shown only
as anonymized text (kept anonymized by the server, or anonymized by a re-distillation).
When a re-distillation stopped at its export because the INT8 model agrees with PyTorch less
often than the threshold, the page asks for a reason and resumes it with the same audited
override as ``stillroom redistill --override-parity WHY`` (and the Export page).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, cast

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from core.commands.config_defaults import default
from core.jobs.registry import MONITOR, REDISTILL
from core.monitor.config import (
    STARTS,
    WINDOWS,
    MonitorConfig,
    MonitorResult,
    RedistillConfig,
    Window,
)
from desktop.pages.base import StagePage
from desktop.widgets.form_fields import primary_button, wrapped_label
from desktop.widgets.monitor_chart import MonitorChart
from desktop.widgets.scroll_body import scrolling_body

_default = partial(default, RedistillConfig)
_ALERT_COLUMNS = ("Window", "Severity", "Signal", "What happened", "What to do next")
_PARITY_HINT = (
    "Type why the lower agreement is acceptable under “Export below the parity threshold” "
    "and press “Export anyway”: the re-distillation resumes at its export step."
)


@dataclass(frozen=True, slots=True)
class Shown:
    """What the page reads from the store: the latest monitor result, the worst-drifting
    requests' anonymized text, the teacher's cost per record so far, and the re-distill
    run that stopped at its export for INT8 parity (None: none did)."""

    result: MonitorResult | None
    worst: tuple[str, ...]
    cost_per_record: float | None
    parity_stop: str | None = None


def parity_stopped(project: Any) -> str | None:
    """The newest re-distill run, if it stopped because its export refused INT8 parity."""
    from core.jobs.runs import list_runs

    found = list_runs(project, REDISTILL.key)
    if not found:
        return None
    last = found[-1]
    refused = last.status == "failed" and last.error_class == "ExportRefusedError"
    return last.id if refused and "PyTorch" in (last.error_message or "") else None


def read_shown(project: Any) -> Shown:
    """The page's data from an open project."""
    from core.jobs.registry import TEACH
    from core.jobs.runs import latest_result
    from core.store.production import shown_texts

    result = latest_result(project, MONITOR)
    texts = shown_texts(project.store, list(result.worst)) if result is not None else {}
    worst = tuple(texts[i] for i in (result.worst if result else ()) if i in texts)
    taught = latest_result(project, TEACH)
    per_record = None
    if taught is not None and taught.labelled:
        per_record = taught.cost_total / max(taught.labelled + taught.already_stored, 1)
    return Shown(result, worst, per_record, parity_stopped(project))


class MonitorPage(StagePage):
    """Log picker, chart over time, alerts, worst-drifting requests, re-distillation."""

    stage = MONITOR

    def build(self) -> None:
        self.shown = Shown(None, (), None)
        content, column = scrolling_body(self, self.body_layout)
        column.addWidget(wrapped_label(
            "Bring back the server's prediction log (its folder, or the file `stillroom "
            "serve-log export` wrote) and judge it: drift against the training data, the "
            "quality estimated from the calibrated confidences, the shadow teacher's agreement, "
            "each against the floor. Importing the same log again adds nothing.", content,
        ))  # fmt: skip
        column.addLayout(self._build_log_row(content))
        self.note_label = wrapped_label("", content, "estimateNote", plain=True)
        column.addWidget(self.note_label)
        self.chart = MonitorChart(content)
        column.addWidget(self.chart)
        column.addWidget(self._build_alerts(content))
        column.addWidget(self._build_worst(content))
        column.addWidget(self._build_redistill(content))
        column.addWidget(self._build_parity(content))
        column.addStretch(1)

    def _build_log_row(self, parent: QWidget) -> QHBoxLayout:
        self.log_edit = QLineEdit(parent)
        self.log_edit.setPlaceholderText("the prediction log folder, or a .jsonl export")
        browse = QPushButton("Choose &folder…", parent)
        browse.clicked.connect(self._browse)
        self.judge_button = primary_button(
            "&Judge the log", "Import the log (if given) and judge every window.", parent
        )
        self.judge_button.clicked.connect(self.start_monitor)
        self.window_combo = QComboBox(parent)
        self.window_combo.addItems(WINDOWS)
        self.window_combo.setToolTip(
            "The window: auto takes the shortest of hour, day and week whose median window "
            "holds enough requests to test."
        )
        row = QHBoxLayout()
        row.addWidget(self.log_edit, 1)
        row.addWidget(browse)
        row.addWidget(self.window_combo)
        row.addWidget(self.judge_button)
        return row

    def _build_alerts(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Alerts", parent)
        layout = QHBoxLayout(box)
        self.alert_table = QTableWidget(0, len(_ALERT_COLUMNS), box)
        self.alert_table.setObjectName("alertTable")
        self.alert_table.setHorizontalHeaderLabels(_ALERT_COLUMNS)
        header = self.alert_table.horizontalHeader()
        for col in range(len(_ALERT_COLUMNS)):
            mode = (
                QHeaderView.ResizeMode.Stretch
                if col >= 3
                else QHeaderView.ResizeMode.ResizeToContents
            )
            header.setSectionResizeMode(col, mode)
        self.alert_table.setWordWrap(True)
        self.alert_table.verticalHeader().hide()
        self.alert_table.setMinimumHeight(220)
        layout.addWidget(self.alert_table)
        return box

    def _build_worst(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Worst-drifting requests (anonymized)", parent)
        layout = QHBoxLayout(box)
        self.worst_list = QListWidget(box)
        self.worst_list.setObjectName("worstList")
        self.worst_list.setMaximumHeight(160)
        layout.addWidget(self.worst_list)
        return box

    def _build_redistill(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Re-distill", parent)
        form = QFormLayout(box)
        self.budget_spin = QSpinBox(box)
        self.budget_spin.setRange(1, 1_000_000)
        self.budget_spin.setValue(_default("budget"))
        self.budget_spin.setToolTip("Production requests the teacher labels for training.")
        self.budget_spin.valueChanged.connect(self._show_cost)
        self.slice_spin = QSpinBox(box)
        self.slice_spin.setRange(0, 100_000)
        self.slice_spin.setValue(_default("slice_size"))
        self.slice_spin.setToolTip("Requests held out, labelled by the teacher, to evaluate on.")
        self.slice_spin.valueChanged.connect(self._show_cost)
        self.start_combo = QComboBox(box)
        self.start_combo.addItems(STARTS)
        self.start_combo.setToolTip("Train from the current student, or from its base model.")
        self.layers_spin = QSpinBox(box)
        self.layers_spin.setObjectName("redistillLayers")
        self.layers_spin.setRange(0, 256)
        self.layers_spin.setSpecialValueText("same as now")
        self.layers_spin.setToolTip(
            "Cut a new student of this many layers from the model the first student was cut "
            "from (trains from the base). A larger student follows traffic the current one "
            "cannot, and is slower: the evaluation says by how much."
        )
        # A new size is cut from the base: "Train from" does not apply.
        self.layers_spin.valueChanged.connect(lambda k: self.start_combo.setEnabled(k == 0))
        self.key_edit = QLineEdit(box)
        self.key_edit.setPlaceholderText("the server's key file (inputs kept encrypted only)")
        self.cost_label = wrapped_label("", box, "teacherCost")
        self.redistill_button = primary_button(
            "&Re-distill now", "Label the least-sure requests with the teacher, train, "
            "evaluate, export a new bundle.", box,
        )  # fmt: skip
        self.redistill_button.clicked.connect(self.start_redistill)
        form.addRow(wrapped_label(
            "Needs the requests' text: the server must run with --keep-inputs anonymized or "
            "encrypted.", box))  # fmt: skip
        form.addRow("Budget", self.budget_spin)
        form.addRow("Held-out slice", self.slice_spin)
        form.addRow("Train from", self.start_combo)
        form.addRow("Student layers", self.layers_spin)
        form.addRow("Input key file", self.key_edit)
        form.addRow("Estimated teacher cost", self.cost_label)
        form.addRow(self.redistill_button)
        return box

    def _build_parity(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Export below the parity threshold", parent)
        box.setObjectName("parityBox")
        form = QFormLayout(box)
        self.parity_label = QLabel(
            "The re-distillation stopped at its export: the new INT8 model agrees with the "
            "PyTorch student less often than the export's threshold. Export it anyway only "
            "with a reason; it is audited and written into the bundle.", box,
        )  # fmt: skip
        self.parity_label.setWordWrap(True)
        self.parity_reason = QLineEdit(box)
        self.parity_reason.setPlaceholderText("Why the lower agreement is acceptable (required)")
        self.parity_reason.setToolTip("Recorded with your user name in the audit log.")
        self.parity_reason.setAccessibleName("Parity override reason")
        self.parity_button = QPushButton("E&xport anyway (audited override)", box)
        self.parity_button.clicked.connect(self.export_anyway)
        form.addRow(self.parity_label)
        form.addRow("Reason", self.parity_reason)
        form.addRow(self.parity_button)
        self.parity_box = box
        box.hide()
        return box

    # -- state -----------------------------------------------------------------------------

    def refresh(self) -> None:
        found = None if not self.context.has_project() else self.run_guarded(self._read)
        self.shown = found or Shown(None, (), None)
        self.parity_box.setVisible(self.shown.parity_stop is not None)
        self.show_result(self.shown.result)
        self.worst_list.clear()
        self.worst_list.addItems(list(self.shown.worst))
        if self.shown.result is not None and not self.shown.worst:
            self.worst_list.addItem("(no anonymized text kept for these requests)")
        self._show_cost()
        self._set_busy(self.busy())

    def _read(self) -> Shown:
        with self.context.project() as project:
            return read_shown(project)

    def show_result(self, result: MonitorResult | None) -> None:
        """The chart, the estimate's note and the alert table for ``result``."""
        self.chart.show_result(result)
        self.note_label.setText("" if result is None else result.estimate_note)
        alerts = () if result is None else result.alerts
        self.alert_table.setRowCount(len(alerts))
        for row, a in enumerate(alerts):
            cells = (f"{a.window + 1} ({a.start[:16]})", a.severity, a.kind, a.message,
                     a.next_step)  # fmt: skip
            for col, text in enumerate(cells):
                self.alert_table.setItem(row, col, QTableWidgetItem(text))
        self.alert_table.resizeRowsToContents()

    def _show_cost(self) -> None:
        per = self.shown.cost_per_record
        count = self.budget_spin.value() + self.slice_spin.value()
        self.cost_label.setText(
            "unknown (no teacher cost recorded yet)" if per is None
            else f"{per * count:,.2f} for {count:,} records at the teacher's recorded cost"
        )  # fmt: skip

    def _set_busy(self, busy: bool) -> None:
        self.judge_button.setEnabled(not busy)
        self.redistill_button.setEnabled(not busy and self.shown.result is not None)
        self.parity_button.setEnabled(not busy and self.shown.parity_stop is not None)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "The prediction log folder")
        if folder:
            self.log_edit.setText(folder)

    def start_monitor(self) -> None:
        text = self.log_edit.text().strip()
        window = cast("Window", self.window_combo.currentText())
        config = MonitorConfig(logs=(Path(text).expanduser(),) if text else (), window=window)
        self._started(self.start_stage(MONITOR, config))

    def redistill_config(self) -> RedistillConfig:
        key = self.key_edit.text().strip()
        return RedistillConfig(
            budget=self.budget_spin.value(), slice_size=self.slice_spin.value(),
            start="base" if self.start_combo.currentText() == "base" else "student",
            layers=self.layers_spin.value() or None,
            input_key_file=Path(key).expanduser() if key else None,
        )  # fmt: skip

    def start_redistill(self) -> None:
        self._started(self.start_stage(REDISTILL, self.redistill_config()))

    def export_anyway(self) -> None:
        """Resume the re-distillation that stopped for parity, with the typed reason."""
        run_id, reason = self.shown.parity_stop, self.parity_reason.text().strip()
        if run_id is None:
            return
        if not reason:
            self.banner.show_error("An override needs a reason.", _PARITY_HINT)
            return
        config = self.run_guarded(self._store_override, run_id, reason)
        if config is not None:
            self._started(self.start_stage(REDISTILL, config, run_id=run_id))

    def _store_override(self, run_id: str, reason: str) -> RedistillConfig:
        """The stopped run's config with the override, stored as its config (audited),
        so that the resumed run's export step takes it as the CLI's --override-parity."""
        from core.jobs.runs import get_run, replace_config, run_config

        with self.context.project() as project:
            stored = run_config(project, REDISTILL, get_run(project, run_id))
            config = replace(stored, override_parity=reason)
            replace_config(project, REDISTILL, run_id, config, "parity override")
        return config

    def on_stage_failed(self, stage: str, error: dict[str, Any]) -> None:
        if stage != REDISTILL.key:
            return
        self.refresh()
        if self.shown.parity_stop is not None:
            # The core's hint names the CLI flag; here the way out is the reason box.
            self.banner.show_error(str(error.get("message", "")), _PARITY_HINT)

    def _started(self, worker: Any) -> None:
        if worker.is_running():
            self._set_busy(True)
            worker.finished.connect(lambda: self._set_busy(False))

    def on_stage_succeeded(self, stage: str, result: Any) -> None:
        if isinstance(result, MonitorResult):
            self.refresh()
            raised = sum(a.severity == "alert" for a in result.alerts)
            if raised:
                self.banner.show_warning(f"{raised} alert(s) in {len(result.windows)} windows.",
                                         "Read what to do next in the alert list.")  # fmt: skip
        elif stage == REDISTILL.key:
            bundle = getattr(result, "bundle", None)
            verdicts = "; ".join(result.verdicts()) if hasattr(result, "verdicts") else ""
            where = f"New bundle: {bundle}" if bundle else "No bundle was exported."
            title = "Re-distilled" + (": ship it." if getattr(result, "passed", False)
                                      else ": do not ship it yet.")  # fmt: skip
            notes = "".join(f" Note: {n}." for n in getattr(result, "notes", ()))
            if notes and not getattr(result, "passed", False):
                notes += (
                    " On this page: set Student layers to that number and press Re-distill now."
                    if "--layers" in notes
                    else ""
                )
            self.banner.show_info(title, f"{verdicts[:1].upper()}{verdicts[1:]}.{notes} {where}")
