"""The export page: write the bundle a server runs, check it, and say how to deploy it.

The user picks where the bundle goes and whether to quantize it; a student that failed (or
never had) its evaluation needs attention: the main action becomes "Export anyway (audited
override)" and asks for the reason, which the export stage audits and writes into the
manifest and the model card. The page then shows the last export's parity, lets the user verify the
bundle's checksums, and gives copy-ready Triton and ONNX Runtime instructions.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.commands.config_defaults import default
from core.errors import ExportRefusedError, UserError
from core.export.config import ExportConfig
from core.jobs.registry import EXPORT
from desktop.pages.base import StagePage
from desktop.widgets.bundle_panel import BundlePanel
from desktop.widgets.card_form import ModelCardForm
from desktop.widgets.form_fields import checkbox, primary_button
from desktop.widgets.scroll_body import scrolling_body

_default = partial(default, ExportConfig)

if TYPE_CHECKING:
    from core.export.config import ExportResult
    from core.export.handoff import GateState
    from core.jobs.runs import Finished

_GATE_TEXT = {
    "passed": "The student passed its evaluation against the quality floor.",
    "failed": "Needs attention: the student FAILED its last evaluation against the quality floor.",
    "none": "Needs attention: the student has not been evaluated yet.",
    "no_student": "There is no trained student to export yet.",
}
_EXPORT, _OVERRIDE = "E&xport the bundle", "E&xport anyway (audited override)"
_OVERRIDE_HINT = (
    "Evaluate the student on the Evaluate page, or give the reason it may ship anyway and "
    "press “Export anyway” (the override is audited and written into the bundle)."
)
_ATTENTION = "color:#7a1f16;font-weight:600;"
_PARITY_HINT = (
    "Untick “Quantize to INT8”, or under Advanced tick “Accept INT8 below the threshold” "
    "and give the reason (audited)."
)


def open_url(url: QUrl) -> bool:
    """Open ``url`` with the desktop's handler (a seam for tests)."""
    return QDesktopServices.openUrl(url)


def pick_folder(parent: QWidget, start: str) -> str:
    """Ask for a folder (a seam for tests); an empty string when cancelled."""
    return QFileDialog.getExistingDirectory(parent, "Choose where to write the bundle", start)


class ExportPage(StagePage):
    """Options, the evaluation gate, the export button, and the last bundle."""

    stage = EXPORT

    def build(self) -> None:
        self._default_out = ""
        self._gate: GateState | None = None
        content, column = scrolling_body(self, self.body_layout)
        intro = QLabel(
            "Write the student as an ONNX bundle that a server runs without PyTorch: the "
            "model, its tokenizer and labels, checksums, a model card and the evaluation "
            "report.",
            content,
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "explanation")
        column.addWidget(intro)
        column.addWidget(self._build_options(content))
        column.addWidget(self._build_gate(content))
        self.card_form = ModelCardForm(content)
        column.addWidget(self.card_form)
        column.addWidget(self._build_advanced(content))
        self.export_button = primary_button(
            _EXPORT, "Export, quantize, check parity and write the bundle.", content
        )
        self.export_button.clicked.connect(self.start_export)
        row = QHBoxLayout()
        row.addWidget(self.export_button)
        row.addStretch(1)
        column.addLayout(row)
        self.placeholder = QLabel("No bundle exported yet.", content)
        self.placeholder.setProperty("role", "explanation")
        column.addWidget(self.placeholder)
        self.panel = BundlePanel(content)
        self.panel.verify_requested.connect(self.verify_bundle)
        self.panel.open_folder_requested.connect(self.open_folder)
        self.panel.hide()
        column.addWidget(self.panel)
        column.addStretch(1)
        # Connected before the base class's refresh: another project gets its own default.
        self.context.project_changed.connect(self.out_edit.clear)

    def _build_options(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Settings", parent)
        form = QFormLayout(box)
        self.out_edit = QLineEdit(box)
        self.out_edit.setToolTip(
            "The bundle folder to create. It must not exist yet (unless replacing is ticked) "
            "and may not be inside the project except under its exports/ folder."
        )
        browse = QPushButton("&Browse…", box)
        browse.setToolTip("Choose the folder the bundle is created in.")
        browse.clicked.connect(self.choose_output_folder)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        label = QLabel("Bundle &folder:", box)
        label.setBuddy(self.out_edit)
        form.addRow(label, row)
        self.force_check = checkbox(
            "Replace an existing bundle at this path", _default("force"),
            "Overwrite a bundle already there; the old one stays until the new one is "
            "complete.", box,
        )  # fmt: skip
        self.int8_check = checkbox(
            "Quantize to INT8 (smaller, faster on CPU)", _default("quantize") == "int8",
            "Ship model.onnx quantized to 8-bit integers (per channel): about 4x smaller "
            "and faster on CPU. Parity with the PyTorch student is checked.", box,
        )  # fmt: skip
        self.fp32_check = checkbox(
            "Also keep the full-precision model (model_fp32.onnx)", _default("keep_fp32"),
            "Add the unquantized ONNX model too, e.g. for GPU serving or comparison.", box,
        )  # fmt: skip
        self.int8_check.toggled.connect(self._update_controls)
        for widget in (self.force_check, self.int8_check, self.fp32_check):
            form.addRow(widget)
        return box

    def _build_gate(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Quality floor", parent)
        column = QVBoxLayout(box)
        self.gate_label = QLabel(box)
        self.gate_label.setWordWrap(True)
        self.override_reason = QLineEdit(box)
        self.override_reason.setPlaceholderText(
            "Why it may ship anyway (required for “Export anyway”)"
        )
        self.override_reason.setToolTip(
            "Shipping a student that failed or skipped its evaluation needs a reason: it is "
            "recorded with your user name in the audit log, the manifest and the model card."
        )
        self.override_reason.setAccessibleName("Override reason")
        column.addWidget(self.gate_label)
        column.addWidget(self.override_reason)
        return box

    def _build_advanced(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Advanced", parent)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.min_agreement = QDoubleSpinBox(box)
        self.min_agreement.setRange(0.5, 1.0)
        self.min_agreement.setDecimals(3)
        self.min_agreement.setSingleStep(0.005)
        self.min_agreement.setValue(_default("min_agreement"))
        self.min_agreement.setToolTip(
            "The least share of test inputs on which the shipped ONNX model must give the "
            "same answer as the PyTorch student; below it the export is refused."
        )
        label = QLabel("Least &agreement with PyTorch:", box)
        label.setBuddy(self.min_agreement)
        form.addRow(label, self.min_agreement)
        self.parity_check = checkbox(
            "Accept INT8 below the threshold", False,
            "Ship the INT8 model although it agrees with PyTorch less often than the "
            "threshold. Your reason is audited.", box,
        )  # fmt: skip
        self.parity_reason = QLineEdit(box)
        self.parity_reason.setPlaceholderText("Why the lower agreement is acceptable (required)")
        self.parity_reason.setToolTip("Recorded with your user name in the audit log.")
        self.parity_reason.setAccessibleName("Parity override reason")
        self.parity_check.toggled.connect(self._update_controls)
        form.addRow(self.parity_check)
        form.addRow(self.parity_reason)
        return box

    # -- actions ---------------------------------------------------------------------------

    def config(self) -> ExportConfig:
        """The export stage's config from the settings.

        Raises:
            ExportError: an option is invalid (e.g. an override without a reason).
        """
        int8 = self.int8_check.isChecked()
        out = self.out_edit.text().strip()
        if not out:
            raise UserError("no bundle folder is set", "type a path or choose one with Browse…")
        if self._override_reason() == "":
            raise UserError(
                "an override needs a reason",
                "type why the student may ship anyway in the reason field; it is audited",
            )
        config = ExportConfig(
            out=Path(out).expanduser().absolute(),
            quantize="int8" if int8 else "none",
            force=self.force_check.isChecked(),
            keep_fp32=int8 and self.fp32_check.isChecked(),
            override_floor=self._override_reason(),
            override_parity=_reason(self.parity_check, self.parity_reason) if int8 else None,
            min_agreement=self.min_agreement.value(),
            **self.card_form.values(),
        )
        config.validate()
        return config

    def start_export(self) -> None:
        """Check what can be checked at once, then start the export stage."""
        self.banner.clear()
        try:
            config = self.config()
            self._check_gate(config.override_floor)
        except ExportRefusedError as exc:
            self.banner.show_error(exc.message, _OVERRIDE_HINT)
            return
        except UserError as exc:
            self.banner.show_user_error(exc)
            return
        from core.export.handoff import preflight

        if self.run_guarded(preflight, config.out, config.force) is None:
            return
        self.start_stage(EXPORT, config)
        self._update_controls()

    def _check_gate(self, override: str | None) -> None:
        from core.export.handoff import require_gate

        with self.context.project() as project:
            require_gate(project, override)

    def choose_output_folder(self) -> None:
        """Pick the folder to create the bundle in; the bundle gets its own sub-folder."""
        current = Path(self.out_edit.text() or str(Path.home()))
        chosen = pick_folder(self, str(current.parent))
        if chosen:
            self.out_edit.setText(str(Path(chosen) / current.name))

    def verify_bundle(self) -> None:
        """Run the bundle verifier on the shown bundle; the result is shown inline."""
        from core.export.handoff import check_bundle

        bundle = self.panel.bundle
        if bundle is None:
            return
        self.banner.clear()
        check = self.run_guarded(check_bundle, bundle)
        if check is None:
            return
        self.panel.show_check(check)
        if check.error is not None:
            self.banner.show_user_error(check.error)
        else:
            self.banner.show_info(self.panel.verify_status.text())

    def open_folder(self, bundle: Path) -> None:
        folder = bundle if bundle.is_dir() else bundle.parent
        if not open_url(QUrl.fromLocalFile(str(folder))):
            self.banner.show_warning(
                f"No file manager opened the folder ({folder})", "open it yourself"
            )

    def on_stage_succeeded(self, stage: str, result: ExportResult) -> None:
        self.banner.show_info(f"The bundle was written to {result.bundle}.")
        self.refresh()

    def on_stage_failed(self, stage: str, error: dict[str, Any]) -> None:
        # The core's hints name CLI flags; here the same way out is a tick box and a reason.
        if error.get("error_class") == "ExportRefusedError":
            message = str(error.get("message", ""))
            hint = _PARITY_HINT if "PyTorch" in message else _OVERRIDE_HINT
            self.banner.show_error(message, hint)

    def refresh(self) -> None:
        if self.context.project_dir is None:
            self.gate_label.setText("Open a project to export its student.")
            self.panel.hide()
            self.placeholder.show()
            self._update_controls()
            return
        read = self.run_guarded(self._read)
        if read is None:
            return
        gate, last, instructions, default_out = read
        self._gate = gate
        self._show_gate(gate)
        if not self.out_edit.text() or self.out_edit.text() == self._default_out:
            self.out_edit.setText(default_out)
        self._default_out = default_out
        self.placeholder.setVisible(last is None)
        self.panel.setVisible(last is not None)
        if last is not None:
            self.panel.show_export(last.result, last.run.finished, instructions)
        self._update_controls()

    def _read(self) -> tuple[GateState, Finished[ExportResult] | None, str, str]:
        from core.export.handoff import gate_state, serving_instructions
        from core.jobs.runs import latest

        with self.context.project() as project:
            gate, last = gate_state(project), latest(project, EXPORT)
            stamp = time.strftime("%Y%m%d-%H%M")
            default_out = str(project.path / "exports" / f"bundle-{stamp}")
        instructions = ""
        if last is not None and last.result.bundle.exists():
            instructions = serving_instructions(last.result.bundle)
        return gate, last, instructions, default_out

    # -- helpers ---------------------------------------------------------------------------

    def _override_reason(self) -> str | None:
        """The reason typed for an override, when the gate needs one (empty: refused)."""
        needed = self._gate is not None and self._gate.needs_override
        return self.override_reason.text().strip() if needed else None

    def _show_gate(self, gate: GateState) -> None:
        text = _GATE_TEXT.get(gate.verdict, "")
        if gate.evaluate_run:
            text += f" (evaluate run {gate.evaluate_run})"
        if gate.verdict == "failed" and gate.reasons:
            text += ": " + "; ".join(gate.reasons)
        self.gate_label.setText(text)
        self.gate_label.setStyleSheet(_ATTENTION if gate.needs_override else "")
        self.override_reason.setVisible(gate.needs_override)
        self.export_button.setText(_OVERRIDE if gate.needs_override else _EXPORT)

    def _update_controls(self) -> None:
        gate = self._gate
        ready = self.context.project_dir is not None and not self.busy()
        self.export_button.setEnabled(ready and (gate is None or gate.verdict != "no_student"))
        int8 = self.int8_check.isChecked()
        self.fp32_check.setEnabled(int8)
        self.parity_check.setEnabled(int8)
        self.parity_reason.setEnabled(int8 and self.parity_check.isChecked())


def _reason(check: QCheckBox, edit: QLineEdit) -> str | None:
    """The override reason when the box is ticked (an empty one is refused by the config)."""
    return edit.text().strip() if check.isChecked() and not check.isHidden() else None
