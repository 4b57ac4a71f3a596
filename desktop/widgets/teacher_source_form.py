"""Where the teacher's answers come from: the human labels, a model folder on this computer,
or an OpenAI-compatible server (URL, model name, API key, concurrency, prices, the CA to
trust for https, and whether the key may go over plain http).

The choices are the teacher specs of :mod:`core.teacher.sources`, keyed by their prefix;
each has its own settings form here. :meth:`TeacherSourceForm.values` gives ``TeachConfig``
fields. The API key is never one of them: the core reads it from an environment variable (or
the OS keyring), so the page puts it there for this session only, and it is never written to
the project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.errors import TeacherError
from core.teacher.config import TeachConfig
from core.teacher.guide import TeacherChoice, reads_prompt
from core.teacher.sources import ENDPOINT_SPEC, LABELS_SPEC, MODEL_SPEC, parse_spec, spec_form
from desktop.widgets.form_fields import wrapped_label

LABELS, LOCAL, ENDPOINT = LABELS_SPEC.prefix, MODEL_SPEC.prefix, ENDPOINT_SPEC.prefix
_DEFAULTS = TeachConfig(teacher=LABELS_SPEC.spec())
_NUMBER_WIDTH = 160
LOOKING = "Looking for models…"
NO_MODELS = "No local models found: choose a folder, or fine-tune a teacher below"


class TeacherSourceForm(QWidget):
    """The teacher specs, each with its own settings."""

    source_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._radios = {
            LABELS: QRadioButton(
                "The human labels already in the data (fine-tuning on them, not distillation)",
                self,
            ),
            LOCAL: QRadioButton("A model on this computer (a list of the local ones)", self),
            ENDPOINT: QRadioButton("An OpenAI-compatible server on your network", self),
        }
        self._radios[LABELS].setToolTip(
            "Use the labels your data already has as the teacher's answers (certain ones). "
            "Records without a label are left out."
        )
        self._radios[LOCAL].setToolTip(
            "A classifier or a language model saved in a folder (or a .gguf file). It runs "
            "here; nothing leaves this computer."
        )
        self._radios[ENDPOINT].setToolTip(
            "A server that speaks the OpenAI API (vLLM, TGI, a gateway). Only anonymized "
            "text is sent to it."
        )
        group = QButtonGroup(self)
        radios = QVBoxLayout()
        for radio in self._radios.values():
            group.addButton(radio)
            # As wide as its text: a click right of the text would otherwise land on a dead
            # stretch of the button.
            radio.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            radios.addWidget(radio)
        # Only the chosen source's form is shown (and takes room: a stack would be as tall
        # as the tallest form).
        self._pages = {LABELS: self._labels_page(), LOCAL: self._local_page(),
                       ENDPOINT: self._endpoint_page()}  # fmt: skip
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(radios)
        for page in self._pages.values():
            layout.addWidget(page)
        for key, radio in self._radios.items():
            radio.toggled.connect(lambda on, key=key: on and self._show(key))
        self._radios[LABELS].setChecked(True)

    # -- the three forms -------------------------------------------------------------------

    def _labels_page(self) -> QWidget:
        page = wrapped_label(
            "Every record with a human label becomes a training example with that label. "
            "No model is asked, so this is quick and costs nothing.",
            self,
        )
        return page

    def _local_page(self) -> QWidget:
        page = QWidget(self)
        self.models = QComboBox(page)
        self.models.setObjectName("teacherModels")
        self.models.setAccessibleName("Local models")
        self.models.setToolTip("The models found on this computer and those fine-tuned here.")
        self.models.addItem(LOOKING, None)
        self.models.currentIndexChanged.connect(self._model_picked)
        self.good_for = wrapped_label("", page, "teacherGoodFor", plain=True)
        self.finetune_button = QPushButton("Fine-tune a teacher from your labels first", page)
        self.finetune_button.setObjectName("finetuneTeacher")
        self.finetune_button.setToolTip(
            "Train a small classifier (MiniLM-L6) on the human labels of the train split; the "
            "validation split picks the best checkpoint, the test records are never read. "
            "It then becomes the teacher, as in the demo."
        )
        self.folder = QLineEdit(page)
        self.folder.setPlaceholderText("/path/to/model-folder or model.gguf")
        self.folder.setAccessibleName("Teacher model folder")
        self.folder.setToolTip("A folder written by save_pretrained, or a .gguf file")
        browse = QPushButton("Choose…", page)
        browse.setToolTip("Choose the teacher's model folder")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.batch_size = QSpinBox(page)
        self.batch_size.setRange(1, 1024)
        self.batch_size.setValue(_DEFAULTS.batch_size)
        self.batch_size.setMaximumWidth(_NUMBER_WIDTH)
        self.batch_size.setToolTip(
            "Records the model reads at once. Larger is faster but uses more memory."
        )
        self.folder.textChanged.connect(lambda _: self.source_changed.emit(self.source()))
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Local models", self.models)
        form.addRow("", self.good_for)
        form.addRow("Model folder", row)
        form.addRow("Records at once", self.batch_size)
        finetune_row = QHBoxLayout()
        finetune_row.addWidget(self.finetune_button)
        finetune_row.addStretch(1)
        form.addRow("", finetune_row)
        return page

    def set_choices(self, choices: list[TeacherChoice]) -> None:
        """List the local models (``core.teacher.guide.local_teachers``), keeping the
        folder already typed or restored."""
        self._choices = {str(c.path): c for c in choices}
        self.models.blockSignals(True)
        self.models.clear()
        self.models.addItem("Choose a model…" if choices else NO_MODELS, None)
        for choice in choices:
            mark = "" if choice.usable else " (needs fine-tuning first)"
            self.models.addItem(f"{choice.name}{mark}", str(choice.path))
        index = self.models.findData(self.folder.text().strip())
        self.models.setCurrentIndex(max(index, 0))
        self.models.blockSignals(False)
        self._model_picked()

    def _model_picked(self) -> None:
        path = self.models.currentData()
        choice = getattr(self, "_choices", {}).get(path) if path else None
        self.good_for.setText("" if choice is None else choice.good_for)
        self.good_for.setVisible(choice is not None)  # no blank line under the list
        if choice is not None and self.folder.text().strip() != path:
            self.folder.setText(str(path))

    def _endpoint_page(self) -> QWidget:
        page = QWidget(self)
        self.base_url = QLineEdit(page)
        self.base_url.setPlaceholderText("http://gpu-box:8000/v1")
        self.base_url.setToolTip("The server's base URL, usually ending in /v1")
        self.model_name = QLineEdit(page)
        self.model_name.setToolTip("The model's name on that server (as /models lists it)")
        self.api_key = QLineEdit(page)
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setToolTip(
            "The server's API key, if it needs one. Kept in memory for this session only "
            f"(as {_DEFAULTS.api_key_env}); never saved in the project or its logs."
        )
        self.concurrency = QSpinBox(page)
        self.concurrency.setRange(1, 256)
        self.concurrency.setValue(_DEFAULTS.concurrency)
        self.concurrency.setMaximumWidth(_NUMBER_WIDTH)
        self.concurrency.setToolTip(
            "Requests sent at the same time. More is faster until the server is saturated "
            "or starts refusing (it then slows down by itself)."
        )
        self.price_in = _price(page, "input")
        self.price_out = _price(page, "output")
        self._build_transport_fields(page)
        self._build_test_row(page)
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("Base URL", self.base_url), ("Model name", self.model_name),
                              ("API key", self.api_key), ("Requests at once", self.concurrency),
                              ("Price per 1M input tokens", self.price_in),
                              ("Price per 1M output tokens", self.price_out),
                              ("CA certificates", self.ca_bundle)):  # fmt: skip
            widget.setAccessibleName(label)
            form.addRow(label, widget)
        form.addRow("", self.allow_insecure_http)
        form.addRow(self.test_button, self.test_status)
        return page

    def _build_transport_fields(self, page: QWidget) -> None:
        self.ca_bundle = QLineEdit(page)
        self.ca_bundle.setPlaceholderText("the system's (or a PEM file of your internal CA)")
        self.ca_bundle.setToolTip(
            "For an https server whose certificate your organisation issued: the PEM file "
            "of your certificate authority. Leave empty to trust the system's."
        )
        self.allow_insecure_http = QCheckBox("Send the API key over plain http", page)
        self.allow_insecure_http.setToolTip(
            "Without https the key crosses the network unencrypted. Only for a trusted "
            "network; recorded in the audit log. Not needed for this computer (localhost)."
        )

    def _build_test_row(self, page: QWidget) -> None:
        self.test_button = QPushButton("Test endpoint", page)
        self.test_button.setToolTip(
            "Check that the server answers, accepts the key and serves this model "
            "(a few seconds at most; nothing is sent but the check)"
        )
        self.test_status = wrapped_label("", page, "endpointStatus", plain=True)

    # -- reading and writing ---------------------------------------------------------------

    def source(self) -> str:
        return next(key for key, radio in self._radios.items() if radio.isChecked())

    def set_source(self, key: str) -> None:
        self._radios[key].setChecked(True)

    def needs_prompt(self) -> bool:
        """Whether the chosen source reads a prompt: an LLM, not the human labels nor a
        local classifier."""
        if self.source() == LOCAL and self.folder.text().strip():
            return reads_prompt(Path(self.folder.text().strip()).expanduser())
        return spec_form(self.source()).prompted

    def values(self) -> dict[str, Any]:
        """The ``TeachConfig`` fields of the chosen source.

        Raises:
            TeacherError: the chosen source lacks its folder or URL.
        """
        source = self.source()
        if source == LABELS:
            return {"teacher": LABELS_SPEC.spec()}
        if source == LOCAL:
            folder = self.folder.text().strip()
            if not folder:
                raise TeacherError("no teacher model is chosen", "choose the model's folder")
            return {"teacher": MODEL_SPEC.spec(folder), "batch_size": self.batch_size.value()}
        url = self.base_url.text().strip()
        if not url:
            raise TeacherError("the server's base URL is empty",
                               "type it, for example http://gpu-box:8000/v1")  # fmt: skip
        ca_bundle = self.ca_bundle.text().strip()
        return {
            "teacher": ENDPOINT_SPEC.spec(url),
            "model": self.model_name.text().strip() or None,
            "concurrency": self.concurrency.value(),
            "price_in": self.price_in.value(),
            "price_out": self.price_out.value(),
            "ca_bundle": Path(ca_bundle).expanduser() if ca_bundle else None,
            "allow_insecure_http": self.allow_insecure_http.isChecked(),
        }

    def typed_api_key(self) -> str:
        return self.api_key.text().strip()

    def set_values(self, config: TeachConfig) -> None:
        """Show a stored run's source and settings (never a key: none is stored)."""
        try:
            prefix, location = parse_spec(config.teacher)
        except TeacherError:  # a spec this release no longer knows: start from the default
            prefix, location = LABELS, ""
        if prefix == LOCAL:
            self.folder.setText(location)
            self.batch_size.setValue(config.batch_size)
        elif prefix == ENDPOINT:
            self.base_url.setText(location)
            self.model_name.setText(config.model or "")
            self.concurrency.setValue(config.concurrency)
            self.price_in.setValue(config.price_in)
            self.price_out.setValue(config.price_out)
            self.ca_bundle.setText("" if config.ca_bundle is None else str(config.ca_bundle))
            self.allow_insecure_http.setChecked(config.allow_insecure_http)
        self.set_source(prefix)

    def _show(self, key: str) -> None:
        for name, page in self._pages.items():
            page.setVisible(name == key)
        self.source_changed.emit(key)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the teacher model folder")
        if folder:
            self.folder.setText(folder)


def _price(parent: QWidget, kind: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setRange(0.0, 10_000.0)
    box.setDecimals(4)
    box.setSingleStep(0.1)
    box.setMaximumWidth(_NUMBER_WIDTH)
    box.setToolTip(
        f"What the server's owner charges per million {kind} tokens, in your currency; used "
        "for the cost shown while it runs and in the evaluation (0 if it is free)."
    )
    return box
