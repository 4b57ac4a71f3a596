"""The Deploy page: a trial server for the latest bundle on this machine, with a shadow teacher.

Start runs the SERVE stage in the worker process (``stillroom serve`` on loopback, the bundle
verified first); Stop cancels it, which stops the server and records what it did. While it
runs, the page shows its URL, a copy-ready ``curl`` and the live counters the worker reports
(requests, p50/p99, shadow agreement, dropped shadow calls).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.commands.config_defaults import default
from core.jobs.registry import SERVE
from core.serve.config import ServeConfig, ServeResult
from core.serve.examples import DeployTarget, curl_example, deploy_target
from desktop.pages.base import StagePage
from desktop.widgets.form_fields import primary_button
from desktop.widgets.scroll_body import scrolling_body

_default = partial(default, ServeConfig)
_COUNTERS = (
    ("serve.requests", "Requests", "{:,.0f}"),
    ("serve.errors", "Refused", "{:,.0f}"),
    ("serve.p50_ms", "Latency p50", "{:.1f} ms"),
    ("serve.p99_ms", "Latency p99", "{:.1f} ms"),
    ("serve.shadow_agreement", "Shadow agreement", "{:.1%}"),
    ("serve.shadow_answered", "Shadow answers", "{:,.0f}"),
    ("serve.shadow_dropped", "Shadow calls dropped", "{:,.0f}"),
)


def copy_text(text: str) -> None:
    """Put ``text`` on the clipboard (a seam for tests)."""
    QGuiApplication.clipboard().setText(text)


class DeployPage(StagePage):
    """Trial-server settings, start/stop, its URL, a curl example and live counters."""

    stage = SERVE

    def build(self) -> None:
        self.target: DeployTarget | None = None
        self.url = ""
        content, column = scrolling_body(self, self.body_layout)
        intro = QLabel(
            "Try the exported bundle behind a real server on this machine (the Open Inference "
            "Protocol v2 that KServe, Seldon and Triton clients speak); IT runs the same on "
            "the hospital's server with `stillroom serve BUNDLE`. A share of requests can also "
            "go, anonymized, to the teacher to compare answers.",
            content,
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "explanation")
        column.addWidget(intro)
        self.bundle_label = QLabel("No bundle exported yet: export one first.", content)
        self.bundle_label.setWordWrap(True)
        column.addWidget(self.bundle_label)
        column.addLayout(self._build_buttons(content))
        column.addWidget(self._build_live(content))
        settings = QHBoxLayout()
        settings.addWidget(self._build_settings(content))
        settings.addWidget(self._build_shadow(content), 2)
        column.addLayout(settings)
        column.addStretch(1)

    def _build_settings(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Trial server", parent)
        form = QFormLayout(box)
        self.port_spin = QSpinBox(box)
        self.port_spin.setRange(1024, 65535)
        self.port_spin.setValue(_default("port"))
        self.port_spin.setToolTip("The HTTP port on 127.0.0.1 (this machine only).")
        form.addRow("Port (127.0.0.1)", self.port_spin)
        return box

    def _build_shadow(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Shadow teacher", parent)
        form = QFormLayout(box)
        self.shadow_check = QCheckBox("Also ask the teacher for a share of requests", box)
        self.shadow_check.setToolTip(
            "Callers never wait for it; text is anonymized with the project's settings first."
        )
        self.teacher_edit = QLineEdit(box)
        self.teacher_edit.setPlaceholderText("openai:https://gpu-box:8000/v1  or  hf:/models/x")
        self.model_edit = QLineEdit(box)
        self.model_edit.setPlaceholderText("the endpoint's model name (openai: only)")
        self.fraction_spin = QDoubleSpinBox(box)
        self.fraction_spin.setRange(0.0, 1.0)
        self.fraction_spin.setSingleStep(0.01)
        self.fraction_spin.setValue(_default("shadow_fraction"))
        form.addRow(self.shadow_check)
        form.addRow("Teacher", self.teacher_edit)
        form.addRow("Model", self.model_edit)
        form.addRow("Share of requests", self.fraction_spin)
        return box

    def _build_buttons(self, parent: QWidget) -> QHBoxLayout:
        self.start_button = primary_button(
            "&Start the trial server", "Verify the bundle, then serve it on this machine.", parent
        )
        self.start_button.clicked.connect(self.start_server)
        self.stop_button = QPushButton("S&top", parent)
        self.stop_button.setToolTip("Stop the server; what it answered stays in its log.")
        self.stop_button.clicked.connect(self.cancel_job)
        self.stop_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        return row

    def _build_live(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Live", parent)
        grid = QGridLayout(box)
        self.status_label = QLabel("Not running.", box)
        self.status_label.setWordWrap(True)
        grid.addWidget(self.status_label, 0, 0, 1, 4)
        self.url_edit = QLineEdit(box)
        self.url_edit.setReadOnly(True)
        grid.addWidget(QLabel("URL", box), 1, 0)
        grid.addWidget(self.url_edit, 1, 1, 1, 3)
        self.curl_text = QPlainTextEdit(box)
        self.curl_text.setReadOnly(True)
        self.curl_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.curl_text.setFixedHeight(92)
        self.copy_button = QPushButton("&Copy", box)
        self.copy_button.clicked.connect(lambda: copy_text(self.curl_text.toPlainText()))
        grid.addWidget(QLabel("Try it", box), 2, 0)
        grid.addWidget(self.curl_text, 2, 1, 1, 2)
        grid.addWidget(self.copy_button, 2, 3)
        self.counters: dict[str, QLabel] = {}
        for index, (name, title, _) in enumerate(_COUNTERS):
            row, col = 3 + index // 2, (index % 2) * 2
            value = QLabel("—", box)
            value.setObjectName(name)
            grid.addWidget(QLabel(title, box), row, col)
            grid.addWidget(value, row, col + 1)
            self.counters[name] = value
        return box

    # -- state -----------------------------------------------------------------------------

    def refresh(self) -> None:
        self.target = None if not self.context.has_project() else self.run_guarded(self._read)
        target = self.target
        if target is None:
            self.bundle_label.setText("No bundle exported yet: export one first.")
        elif target.task != "classification":
            self.bundle_label.setText(
                f"The latest bundle ({target.bundle}) is a generation bundle: generation "
                "bundles are not served yet."
            )
        else:
            self.bundle_label.setText(f"Bundle: {target.bundle} (model “{target.model}”)")
        self._set_running(self.busy())

    def _read(self) -> DeployTarget | None:
        with self.context.project() as project:
            return deploy_target(project)

    def _set_running(self, running: bool) -> None:
        servable = self.target is not None and self.target.task == "classification"
        self.start_button.setEnabled(servable and not running)
        self.stop_button.setEnabled(running)

    def config(self) -> ServeConfig:
        """The trial server's settings from the form (other ports picked free)."""
        from core.serve.server import free_port

        shadow = self.shadow_check.isChecked() and bool(self.teacher_edit.text().strip())
        return ServeConfig(
            port=self.port_spin.value(), grpc_port=free_port(), metrics_port=free_port(),
            shadow_teacher=self.teacher_edit.text().strip() if shadow else None,
            shadow_model=self.model_edit.text().strip() or None,
            shadow_fraction=self.fraction_spin.value(),
        )  # fmt: skip

    def start_server(self) -> None:
        if self.target is None:
            return
        worker = self.start_stage(SERVE, self.config())
        if not worker.is_running():
            return
        self.url = f"http://127.0.0.1:{self.port_spin.value()}"
        worker.progress.connect(self._on_progress)
        worker.metric.connect(self._on_metric)
        worker.finished.connect(lambda: self._set_running(False))
        self.status_label.setText("Verifying the bundle and starting…")
        for label in self.counters.values():
            label.setText("—")
        self._set_running(True)

    def _on_progress(self, fraction: float, message: str) -> None:
        if message.startswith("serving"):
            self.status_label.setText(f"Running: {message}. Stop ends it.")
            self.url_edit.setText(self.url)
            assert self.target is not None
            self.curl_text.setPlainText(curl_example(self.url, self.target.model))

    def _on_metric(self, name: str, value: float, step: int) -> None:
        label = self.counters.get(name)
        if label is None:
            return
        form = next(f for n, _, f in _COUNTERS if n == name)
        label.setText("—" if value < 0 else form.format(value))

    def on_stage_succeeded(self, stage: str, result: Any) -> None:
        if isinstance(result, ServeResult):
            self.status_label.setText(
                f"Stopped after {result.seconds:.0f} s: {result.requests:,} requests answered, "
                f"{result.errors:,} refused. The prediction log is in {result.log_dir}."
            )
        self.url_edit.clear()
        self._set_running(False)
