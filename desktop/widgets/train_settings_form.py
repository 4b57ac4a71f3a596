"""The train page's settings: method (full or LoRA), the key hyper-parameters and the device.

Defaults are the core's (``core.train.config``); every field explains itself in a tooltip
in plain language. :meth:`TrainSettingsForm.values` gives ``TrainConfig`` fields.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from core.errors import TrainError
from core.train.config import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, TrainConfig

AUTOMATIC = "Automatic"
_LEARNING_RATES = ("1e-5", "3e-5", "5e-5", "1e-4", "2e-4", "5e-4", "1e-3")
_DEFAULTS = TrainConfig()
_FIELD_WIDTH = 130
_BALANCE = (("Automatic", "auto"), ("Show rare classes more often", "sampler"),
            ("Weigh in the loss", "weights"), ("Off", "off"))  # fmt: skip
_LEFT_ROWS = 3  # under Method: epochs, batch size, learning rate; the rest on the right
AUGMENT_LABEL = "Extra teacher-labelled copies of rare-class rows"
AUGMENT_MAX = 10  # the core takes up to 20; more than 10 only repeats the same rows

TIPS = {
    "full": "Adjust every weight of the student. Usually the most accurate; needs the most memory.",
    "lora": "Train small add-on weights (LoRA adapters) and merge them in at the end. Needs "
    "far less memory; often nearly as accurate.",
    "epochs": "How many times the student reads the whole training set. 'Automatic' gives a "
    "small data set more passes (3 to 8); training stops early if validation stops improving.",
    "balance": "How the student treats classes with few examples. 'Automatic' shows rare "
    "classes more often when the labels are skewed (the largest class has 4x the examples "
    "of the smallest or more); 'Weigh in the loss' makes their mistakes count more instead.",
    "batch_size": "Examples processed together in one step. Larger is faster but needs more "
    "memory; lower it if training runs out of memory.",
    "lr": "How big a step the student takes when it learns. 'Automatic' uses 5e-5 for a full "
    "fine-tune and 2e-4 for LoRA; too high makes training unstable.",
    "max_length": "The longest text, in tokens, the student reads; longer texts are cut. "
    "'Automatic' uses 128 for classification and 512 for generation. Shorter is faster.",
    "alpha": "How much the student copies the teacher's probabilities (1 = only the teacher) "
    "versus the human labels (0 = only the labels).",
    "temperature": "Softens the teacher's probabilities so the student also learns which "
    "wrong answers were close. 1 uses them as they are; 2-4 softens them.",
    "augment_rare": "Off by default. The teacher labels this many perturbed copies (a few "
    "words dropped, two neighbours swapped) of each training row of a rare class (a quarter "
    "of the largest class's rows or fewer), and the student learns from them besides the "
    "records. Needs a local classifier teacher (a model folder on this computer). Measured "
    "on a skewed data set, 3 copies changed macro-F1 within noise for about 75% more "
    "training steps, hence off. The copies are never stored; validation and test never "
    "see them.",
    "checkpoint_every": "Every this many steps, training measures itself on the validation "
    "set (a point on the chart) and saves a checkpoint it can resume from.",
    "device": "Where to train. 'Automatic' uses a GPU if there is one, else the CPU.",
}


class TrainSettingsForm(QWidget):
    """Method, hyper-parameters and device, with the core's defaults."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        left, right = self._columns()
        left.addRow("Method", self._method_row())
        self.epochs = _double(self, 0.0, 100.0, 0.5, 1, _DEFAULTS.epochs or 0.0)
        self.epochs.setSpecialValueText(AUTOMATIC)
        self.batch_size = _int(self, 1, 4096, _DEFAULTS.batch_size)
        self.learning_rate = QComboBox(self)
        self.learning_rate.setEditable(True)
        self.learning_rate.addItems([AUTOMATIC, *_LEARNING_RATES])
        self.learning_rate.setMinimumContentsLength(10)
        self.max_length = _int(self, 0, 32768, 0)
        self.max_length.setSingleStep(16)
        self.max_length.setSpecialValueText(AUTOMATIC)
        self.alpha = _double(self, 0.0, 1.0, 0.05, 2, DEFAULT_ALPHA)
        self.temperature = _double(self, 0.1, 20.0, 0.5, 1, DEFAULT_TEMPERATURE)
        self.checkpoint_every = _int(self, 1, 1_000_000, _DEFAULTS.checkpoint_every)
        self.balance = QComboBox(self)
        for text, value in _BALANCE:
            self.balance.addItem(text, value)
        self.augment_rare = _int(self, 0, AUGMENT_MAX, _DEFAULTS.augment_rare)
        self.augment_rare.setSpecialValueText("Off")
        self._augment_blocked: str | None = None  # why the copies cannot be made, if so
        self.device = QComboBox(self)
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device.addItem(f"{AUTOMATIC} (a GPU if there is one)", "auto")
        self.device.addItem("CPU", "cpu")
        rows = (
            ("Epochs", self.epochs, "epochs"),
            ("Batch size", self.batch_size, "batch_size"),
            ("Learning rate", self.learning_rate, "lr"),
            ("Maximum length", self.max_length, "max_length"),
            ("Teacher weight (alpha)", self.alpha, "alpha"),
            ("Temperature", self.temperature, "temperature"),
            ("Rare classes", self.balance, "balance"),
            (AUGMENT_LABEL, self.augment_rare, "augment_rare"),
            ("Validate and save every (steps)", self.checkpoint_every, "checkpoint_every"),
            ("Device", self.device, "device"),
        )
        for index, (label, widget, key) in enumerate(rows):
            widget.setMinimumWidth(_FIELD_WIDTH)
            widget.setToolTip(TIPS[key])
            widget.setAccessibleName(label)
            (left if index < _LEFT_ROWS else right).addRow(label, widget)

    def _columns(self) -> tuple[QFormLayout, QFormLayout]:
        """Two columns, so that the chart below starts within a laptop screen; read (and
        tabbed through) down the left one, then down the right one."""
        left, right = _form(), _form()
        columns = QHBoxLayout(self)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.addLayout(left)
        columns.addSpacing(32)  # not setSpacing: the forms would inherit it between rows
        columns.addLayout(right)
        columns.addStretch(1)
        return left, right

    def _method_row(self) -> QHBoxLayout:
        self.full_radio = QRadioButton("Full fine-tune", self)
        self.lora_radio = QRadioButton("LoRA adapters", self)
        self._method = QButtonGroup(self)
        row = QHBoxLayout()
        for radio, key in ((self.full_radio, "full"), (self.lora_radio, "lora")):
            radio.setToolTip(TIPS[key])
            self._method.addButton(radio)
            row.addWidget(radio)
        row.addStretch(1)
        self.full_radio.setChecked(True)
        return row

    def set_devices(self, names: list[str]) -> None:
        """Add the CUDA devices found (``cuda:N (name)``), keeping Automatic and CPU."""
        while self.device.count() > 2:
            self.device.removeItem(2)
        for name in names:
            self.device.addItem(f"GPU {name}", name.split(" ", 1)[0])

    def set_augment_unavailable(self, reason: str | None) -> None:
        """Disable the rare-class copies with ``reason`` (a generation project, a teacher
        that is not a local classifier), or enable them with None."""
        self._augment_blocked = reason
        self.augment_rare.setEnabled(reason is None)
        tip = TIPS["augment_rare"]
        self.augment_rare.setToolTip(tip if reason is None else f"Not available: {reason}. {tip}")

    def values(self) -> dict[str, Any]:
        """The ``TrainConfig`` fields this form sets.

        Raises:
            TrainError: the learning rate is not a number.
        """
        return {
            "lora": self.lora_radio.isChecked(),
            "epochs": self.epochs.value() or None,
            "balance": self.balance.currentData() or "auto",
            # Disabled: off, not the value left in the box (the core would refuse it).
            "augment_rare": 0 if self._augment_blocked else self.augment_rare.value(),
            "batch_size": self.batch_size.value(),
            "lr": self._learning_rate(),
            "max_length": self.max_length.value() or None,
            "alpha": self.alpha.value(),
            "temperature": self.temperature.value(),
            "checkpoint_every": self.checkpoint_every.value(),
            "device": self.device.currentData() or "auto",
        }

    def set_values(self, config: TrainConfig) -> None:
        """Show a stored run's settings."""
        (self.lora_radio if config.lora else self.full_radio).setChecked(True)
        self.epochs.setValue(config.epochs or 0.0)
        self.balance.setCurrentIndex(max(self.balance.findData(config.balance), 0))
        self.augment_rare.setValue(config.augment_rare)
        self.batch_size.setValue(config.batch_size)
        self.temperature.setValue(config.temperature)
        self.checkpoint_every.setValue(config.checkpoint_every)
        self.alpha.setValue(DEFAULT_ALPHA if config.alpha is None else config.alpha)
        self.max_length.setValue(config.max_length or 0)
        self.learning_rate.setCurrentText(AUTOMATIC if config.lr is None else f"{config.lr:g}")
        self.device.setCurrentIndex(max(self.device.findData(config.device), 0))

    def _learning_rate(self) -> float | None:
        text = self.learning_rate.currentText().strip()
        if not text or text.startswith(AUTOMATIC):
            return None
        try:
            return float(text)
        except ValueError:
            raise TrainError(
                f"the learning rate {text!r} is not a number",
                "type a number such as 5e-5, or choose Automatic",
            ) from None


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
    return form


def _int(parent: QWidget, low: int, high: int, value: int) -> QSpinBox:
    box = QSpinBox(parent)
    box.setRange(low, high)
    box.setValue(value)
    return box


def _double(
    parent: QWidget, low: float, high: float, step: float, decimals: int, value: float
) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box
