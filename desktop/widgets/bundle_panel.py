"""The export page's result panel: where the bundle is, how faithful it is, whether it is
intact, and how to put it on a server.

It renders the export run's stored :class:`~core.export.config.ExportResult` (its bundle
path resolved against the project's current folder), the per-file checks of
:func:`core.export.handoff.check_bundle` and the text of
:func:`core.export.handoff.serving_instructions`; it computes nothing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.export.config import ExportResult, ParityReport
from core.export.handoff import BundleCheck
from desktop.widgets.empty_placeholder import EmptyPlaceholder
from desktop.widgets.result_tables import fill_table, fit_height, fmt, read_only_table, when

_VARIANTS = {"onnx_fp32": "ONNX fp32", "onnx_int8": "ONNX INT8 (shipped)"}


def _button(text: str, tip: str, parent: QWidget) -> QPushButton:
    button = QPushButton(text, parent)
    button.setToolTip(tip)
    return button


class BundlePanel(QWidget):
    """Bundle path, parity, verification and serving instructions of the last export."""

    verify_requested = Signal()
    open_folder_requested = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bundle: Path | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_location())
        layout.addWidget(self._build_parity())
        layout.addWidget(self._build_verify())
        layout.addWidget(self._build_instructions())

    # -- layout ----------------------------------------------------------------------------

    def _build_location(self) -> QGroupBox:
        box = QGroupBox("Bundle", self)
        column = QVBoxLayout(box)
        row = QHBoxLayout()
        self.path_edit = QLineEdit(box)
        self.path_edit.setReadOnly(True)
        self.path_edit.setAccessibleName("Bundle folder")
        self.path_edit.setToolTip("Where the last export wrote the bundle.")
        self.copy_path_button = _button("Copy path", "Copy the bundle's path.", box)
        self.copy_path_button.clicked.connect(lambda: _copy(self.path_edit.text()))
        self.open_folder_button = _button(
            "Open folder", "Show the bundle in the file manager.", box
        )
        self.open_folder_button.clicked.connect(self._open_folder)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.copy_path_button)
        row.addWidget(self.open_folder_button)
        self.summary = QLabel(box)
        self.summary.setWordWrap(True)
        self.warnings = QLabel(box)
        self.warnings.setWordWrap(True)
        self.warnings.setObjectName("warningText")
        self.warnings.setStyleSheet("color:#7a1f16;")
        column.addLayout(row)
        column.addWidget(self.summary)
        column.addWidget(self.warnings)
        return box

    def _build_parity(self) -> QGroupBox:
        box = QGroupBox("Parity with the PyTorch student", self)
        column = QVBoxLayout(box)
        self.parity_caption = QLabel(box)
        self.parity_caption.setWordWrap(True)
        self.parity_table = read_only_table(
            ["Variant", "Same answer as PyTorch", "Same answer, in batches", "Largest logit "
             "difference", "Metric", "Metric change"],
            "Parity",
        )  # fmt: skip
        column.addWidget(self.parity_caption)
        column.addWidget(self.parity_table)
        return box

    def _build_verify(self) -> QGroupBox:
        box = QGroupBox("Integrity", self)
        column = QVBoxLayout(box)
        row = QHBoxLayout()
        self.verify_button = _button(
            "&Verify bundle",
            "Recompute every file's checksum against the manifest, load the model and "
            "re-run the stored self-test inputs: what a server operator should do on arrival.",
            box,
        )
        self.verify_button.clicked.connect(self.verify_requested)
        self.verify_status = QLabel(box)
        self.verify_status.setWordWrap(True)
        row.addWidget(self.verify_button)
        row.addWidget(self.verify_status, 1)
        self.files_table = read_only_table(["File", "Size (bytes)", "Checksum"], "Bundle files")
        self.files_placeholder = EmptyPlaceholder(
            self.files_table,
            "Press Verify bundle to recompute every checksum against the manifest.",
        )
        column.addLayout(row)
        column.addWidget(self.files_table)
        return box

    def _build_instructions(self) -> QGroupBox:
        box = QGroupBox("Copy to a server", self)
        column = QVBoxLayout(box)
        self.instructions = QPlainTextEdit(box)
        self.instructions.setReadOnly(True)
        self.instructions.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.instructions.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.instructions.setMinimumHeight(220)
        self.instructions.setAccessibleName("Serving instructions")
        self.instructions.setToolTip(
            "Commands for each serving stack the bundle is laid out for (NVIDIA Triton) and "
            "for plain ONNX Runtime; replace SERVER with the machine that will serve the model."
        )
        self.copy_instructions_button = _button(
            "Copy instructions", "Copy the text above to the clipboard.", box
        )
        self.copy_instructions_button.clicked.connect(
            lambda: _copy(self.instructions.toPlainText())
        )
        column.addWidget(self.instructions)
        column.addWidget(self.copy_instructions_button, 0, Qt.AlignmentFlag.AlignRight)
        return box

    # -- rendering -------------------------------------------------------------------------

    def show_export(self, result: ExportResult, finished: str | None, instructions: str) -> None:
        """Render the last export's stored result (``finished``: when its run ended) and its
        serving instructions."""
        exists = result.bundle.exists()
        self.bundle = result.bundle
        self.path_edit.setText(str(result.bundle))
        self.summary.setText(_summary(result) + f" Exported {when(finished)}, run {result.run_id}.")
        self.warnings.setText(_warnings(result, exists))
        self.warnings.setVisible(bool(self.warnings.text()))
        self._show_parity(result.parity)
        self.instructions.setPlainText(instructions)
        self.verify_button.setEnabled(exists)
        self.open_folder_button.setEnabled(exists)
        self.copy_instructions_button.setEnabled(bool(instructions))
        self.show_check(None)

    def _show_parity(self, parity: ParityReport) -> None:
        metric = parity.metric_name
        self.parity_table.horizontalHeaderItem(4).setText(metric.replace("_", " ").capitalize())
        rows = [
            [
                _VARIANTS.get(v.variant, v.variant),
                _share(v.agreement),
                _share(v.batched_agreement),
                fmt(v.max_abs_diff, 4),
                fmt(v.metric, 4),
                fmt(v.metric_delta, 4),
            ]
            for v in parity.variants
        ]
        fill_table(self.parity_table, rows)
        fit_height(self.parity_table)
        between = parity.int8_vs_fp32_agreement
        text = f"Compared on {parity.n:,} test inputs (reference: {parity.reference} labels"
        text += f"; PyTorch {metric.replace('_', ' ')} {fmt(parity.pytorch_metric, 4)})."
        if between is not None:
            text += f" INT8 and fp32 give the same answer on {_share(between)} of them."
        self.parity_caption.setText(text if parity.n else "No parity check: no test inputs.")

    def show_check(self, check: BundleCheck | None) -> None:
        """The per-file table of a verification (None: not verified yet)."""
        if check is None:
            fill_table(self.files_table, [])
            fit_height(self.files_table)
            self.verify_status.setText("Not verified yet.")
            return
        rows = [[f.name, "—" if f.size is None else f"{f.size:,}", f.status] for f in check.files]
        fill_table(self.files_table, rows, text_columns=(0, 2))
        fit_height(self.files_table, most_rows=10)
        for i, f in enumerate(check.files):
            if not f.ok:
                self.files_table.item(i, 2).setForeground(Qt.GlobalColor.darkRed)
        if check.ok and check.report is not None:
            sign_off = check.report.sign_off
            self.verify_status.setText(
                f"Bundle OK: {check.report.files_checked} files match their checksums, the "
                f"model loads ({check.report.provider}) and {check.report.probes_checked} "
                "self-test inputs reproduce their outputs. "
                + _signed(check)
                + ("" if sign_off is None else f" Sign-off: {sign_off.describe()}.")
            )
        elif check.error is not None:
            self.verify_status.setText(f"Bundle FAILED verification: {check.error.file}.")

    def statuses(self) -> dict[str, str]:
        """File name → shown checksum status (tests, accessibility)."""
        table = self.files_table
        return {table.item(i, 0).text(): table.item(i, 2).text() for i in range(table.rowCount())}

    def _open_folder(self) -> None:
        if self.bundle is not None:
            self.open_folder_requested.emit(self.bundle)


def _signed(check: BundleCheck) -> str:
    signature = check.report.signature if check.report is not None else None
    if signature is None:
        return ""
    # The page checks against the key inside the bundle; who signed it is for a pinned key.
    return (
        f"The manifest's signature is valid (key {signature.key_id}); to prove who signed "
        "it, the server pins that key: stillroom bundle verify BUNDLE --key PUB."
    )


def _copy(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _summary(result: ExportResult) -> str:
    quantize = "INT8" if result.quantize == "int8" else "fp32"
    return (
        f"{result.files} files with the manifest, {result.bundle_bytes / 1e6:,.1f} MB; "
        f"the shipped model is {quantize}, {result.model_bytes / 1e6:,.1f} MB "
        f"(fp32: {result.fp32_bytes / 1e6:,.1f} MB). Temperature "
        f"{result.temperature:.3f} ({result.temperature_source})."
    )


def _warnings(result: ExportResult, exists: bool) -> str:
    out = []
    if not exists:
        out.append("The bundle is no longer at this path (moved or deleted).")
    if result.floor_overridden:
        out.append(
            f"Exported over a {result.verdict} evaluation: the override and its "
            "reason are in the audit log, the manifest and the model card."
        )
    if result.parity_overridden:
        out.append("Exported below the parity threshold (override audited).")
    return " ".join(out)
