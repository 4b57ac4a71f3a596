"""The train page's student choice: a model from the local catalogue (or any folder), used
as it is or shrunk ("derived") to K of its layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from core.errors import StudentModelError, TrainError
from core.train.catalogue import ModelEntry, recommended_student
from core.train.config import TrainConfig
from core.train.derive import kept_by_default, layer_default
from desktop.widgets.form_fields import wrapped_label

_NO_MODELS = "No local models found yet: add a model folder"
_LOOKING = "Looking for models…"  # until the page's background look-up answers
_DEFAULTS = TrainConfig()
_MAX_LAYERS = 128  # the layers box's ceiling while the chosen model's depth is unknown
_LAYERS_TIP = "How many of the larger model's layers the student keeps"


class StudentPicker(QWidget):
    """Which model becomes the student, and whether it is derived (fewer layers)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: dict[str, ModelEntry] = {}
        self._layers_for: str | None = None  # the model the layers box's value belongs to
        self._layers_kept: dict[str, int] = {}  # per model picked before: its value then
        self._layer_default: tuple[int, int, str] | None = None  # (keep, depth, why)
        # The model row first: widgets made first come first in the tab order, as on screen.
        self._build_model_row()
        self._build_choice()
        self.info = wrapped_label("", self, "studentInfo", plain=True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.model_combo, 0, 0, 1, 2)
        grid.addWidget(self.add_button, 0, 2)
        grid.addWidget(self.use_radio, 1, 0, 1, 3)
        derive_row = QHBoxLayout()
        derive_row.addWidget(self.derive_radio)
        derive_row.addWidget(self.layers)
        derive_row.addStretch(1)
        grid.addLayout(derive_row, 2, 0, 1, 3)
        auto_row = QHBoxLayout()
        auto_row.addWidget(self.auto_radio)
        auto_row.addWidget(self.budget)
        auto_row.addStretch(1)
        grid.addLayout(auto_row, 3, 0, 1, 3)
        grid.addWidget(self.info, 4, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        for signal in (self.model_combo.currentIndexChanged, self.derive_radio.toggled,
                       self.layers.valueChanged, self.auto_radio.toggled):  # fmt: skip
            signal.connect(self._update)
        self.set_entries([], "classification", looking=True)

    def _build_choice(self) -> None:
        self.use_radio = QRadioButton("Train this model as it is", self)
        self.use_radio.setToolTip(
            "The student keeps the chosen model's size. Pick a small model: it is what you "
            "will run in production."
        )
        self.derive_radio = QRadioButton("Make a smaller copy of it, keeping", self)
        self.derive_radio.setToolTip(
            "Build the student from a larger model by keeping only some of its layers "
            "(evenly spaced). Fewer layers: faster and smaller, usually a little less accurate."
        )
        self.auto_radio = QRadioButton("Find the smallest copy that passes the floor, within", self)
        self.auto_radio.setToolTip(
            "Try smaller copies first (1 layer, 2 layers, ...) with a few learning rates and "
            "teacher settings, and keep the first whose validation figures clear the "
            "project's quality floor. Every try is its own run; the chart below shows "
            "quality against speed for all of them."
        )
        self.budget = QSpinBox(self)
        self.budget.setRange(1, 24 * 60)
        self.budget.setValue(round(_DEFAULTS.budget_s / 60))
        self.budget.setSuffix(" min")
        self.budget.setAccessibleName("Search time budget")
        self.budget.setToolTip("The search stops starting new tries after this much time")
        group = QButtonGroup(self)
        group.addButton(self.use_radio)
        group.addButton(self.derive_radio)
        group.addButton(self.auto_radio)
        self.use_radio.setChecked(True)
        self.layers = QSpinBox(self)
        self.layers.setRange(1, _MAX_LAYERS)
        self.layers.valueChanged.connect(self._layers_suffix)
        self.layers.setValue(3)  # until a model is chosen: then the core's default for it
        self.layers.setAccessibleName("Layers to keep")
        self.layers.setToolTip(_LAYERS_TIP)

    def _build_model_row(self) -> None:
        self.model_combo = QComboBox(self)
        self.model_combo.setAccessibleName("Student model")
        self.model_combo.setToolTip(
            "Models found on this computer that can learn this project's task. Stillroom "
            "never downloads a model."
        )
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setMinimumContentsLength(16)
        self.add_button = QPushButton("Add model folder…", self)
        self.add_button.setToolTip("Choose a Hugging Face model folder on this computer")
        self.add_button.clicked.connect(self._browse)

    def _layers_suffix(self, value: int) -> None:
        self.layers.setSuffix(" layer" if value == 1 else " layers")

    def set_entries(self, entries: list[ModelEntry], task: str, *, looking: bool = False) -> None:
        """List the catalogue models that can learn ``task`` (added folders are kept).

        The choice shown stays; with none yet, the catalogue's recommended student for the
        task is chosen (an encoder for classification).
        """
        chosen = self.current_path()
        added = [p for p in self._paths() if p not in self._entries]
        self._entries = {str(e.path): e for e in entries if task in e.tasks}
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for path, entry in self._entries.items():
            self._add_item(_describe(entry), path)
        for path in added:
            self._add_item(path, path)
        if self.model_combo.count() == 0:
            self.model_combo.addItem(_LOOKING if looking else _NO_MODELS, None)
        self.model_combo.blockSignals(False)
        if chosen is None:
            recommended = recommended_student(self._entries.values(), task)
            chosen = None if recommended is None else str(recommended.path)
        if chosen is not None:
            self.select(chosen)
        self._update()

    def add_folder(self, path: Path | str) -> None:
        """Add a model folder (the folder picker's choice) and select it."""
        text = str(path)
        if self.model_combo.findData(text) < 0:
            if self.model_combo.itemData(0) is None:
                self.model_combo.removeItem(0)
            self._add_item(text, text)
        self.select(text)

    def select(self, path: str) -> None:
        index = self.model_combo.findData(path)
        if index < 0:
            self.add_folder(path)
            return
        self.model_combo.setCurrentIndex(index)

    def current_path(self) -> str | None:
        data = self.model_combo.currentData()
        return str(data) if data else None

    def values(self) -> dict[str, Any]:
        """``student`` or ``derive`` + ``layers`` for the TrainConfig.

        Raises:
            TrainError: no model is chosen.
        """
        path = self.current_path()
        if path is None:
            raise TrainError(
                "no student model is chosen",
                "choose a model from the list, or add a model folder from this computer",
            )
        if self.auto_radio.isChecked():
            return {"student": None, "derive": path, "layers": None, "auto": True,
                    "budget_s": self.budget.value() * 60.0}  # fmt: skip
        if self.derive_radio.isChecked():
            return {"student": None, "derive": path, "layers": self.layers.value()}
        return {"student": path, "derive": None, "layers": None}

    def set_values(self, config: TrainConfig) -> None:
        """Show a stored run's student choice."""
        if config.derive and config.auto:
            self.select(config.derive)
            self.auto_radio.setChecked(True)
            self.budget.setValue(round(config.budget_s / 60))
        elif config.derive:
            self.select(config.derive)
            self.derive_radio.setChecked(True)
            if config.layers:  # None: the run kept the default, which select() shows
                self.layers.setValue(config.layers)
        elif config.student:
            self.select(config.student)
            self.use_radio.setChecked(True)

    def _add_item(self, label: str, path: str) -> None:
        self.model_combo.addItem(label, path)
        self.model_combo.setItemData(
            self.model_combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole
        )

    def _paths(self) -> list[str]:
        return [str(d) for i in range(self.model_combo.count())
                if (d := self.model_combo.itemData(i))]  # fmt: skip

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.add_folder(folder)

    def _update(self) -> None:
        self._follow_model()
        derive = self.derive_radio.isChecked()
        self.layers.setEnabled(derive)
        self.budget.setEnabled(self.auto_radio.isChecked())
        entry = self._entries.get(self.current_path() or "")
        lines = []
        if entry is not None:  # only catalogue models have known figures
            lines.append(_memory_line(entry, derive or self.auto_radio.isChecked()))
        if derive and self._layer_default is not None:
            lines.append(_default_line(self._layer_default))
        # Hidden when there is nothing to say, so no blank line.
        self.info.setVisible(bool(lines))
        self.info.setText(" ".join(lines))
        self.changed.emit()

    def _follow_model(self) -> None:
        """A newly chosen model sets the layers box: its range stops below the model's
        depth and its value is the core's default (``stillroom train --derive`` without
        ``--layers``), or the value it had when this model was last chosen."""
        path = self.current_path()
        if path == self._layers_for:
            return
        if self._layers_for is not None:
            self._layers_kept[self._layers_for] = self.layers.value()
        self._layers_for = path  # first: setValue below re-enters _update
        self._layer_default = None if path is None else self._default_for(path)
        tip = _LAYERS_TIP
        if self._layer_default is None:
            self.layers.setMaximum(_MAX_LAYERS)
        else:
            keep, depth, why = self._layer_default
            self.layers.setMaximum(max(depth - 1, 1))  # keeping all of them is no copy
            self.layers.setValue(keep)
            tip += f". This model has {depth}; the default keeps {keep}: {why}"
        if path in self._layers_kept:
            self.layers.setValue(self._layers_kept[path])
        self.layers.setToolTip(tip)

    def _default_for(self, path: str) -> tuple[int, int, str] | None:
        """(layers kept by default, depth, why) for a model; None when its depth is unknown
        (a folder without a readable config: the run will say what is wrong)."""
        entry = self._entries.get(path)
        if entry is not None:  # catalogue figures: no disk read, and .gguf files too
            if not entry.layers:
                return None
            keep, why = kept_by_default(entry.model_type, entry.layers)
            return keep, entry.layers, why
        try:
            return layer_default(Path(path))
        except StudentModelError:
            return None


def _describe(entry: ModelEntry) -> str:
    layers = f", {entry.layers} layers" if entry.layers else ""
    name = entry.display_name or entry.path.name
    return f"{name} ({entry.parameters / 1e6:.1f}M parameters{layers})"


def _default_line(default: tuple[int, int, str]) -> str:
    keep, depth, why = default
    if depth < 2:
        return f"A smaller copy cannot be made: {why}."
    return f"By default the copy keeps {keep} of the {depth} layers: {why}."


def _memory_line(entry: ModelEntry, derived: bool) -> str:
    memory = entry.memory_bytes
    full, lora = memory.get("train_full_fp32", 0) / 2**30, memory.get("train_lora", 0) / 2**30
    line = (
        f"{entry.model_type or 'model'} in {entry.path}. Memory before activations: about "
        f"{full:.2f} GiB for a full fine-tune, {lora:.2f} GiB with LoRA."
    )
    if derived:
        line += " A smaller copy needs proportionally less."
    return line
