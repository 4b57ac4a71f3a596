"""Train / validation / test percentages that always sum to 100, plus the split seed."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider, QSpinBox, QWidget

from core.data.importer import ImportConfig
from core.data.split import SPLITS

_DEFAULTS = {field.name: field.default for field in dataclasses.fields(ImportConfig)}
_LABELS = ("T&rain", "&Validation", "T&est")
_TIPS = (
    "Share of the records the student learns from. At least 1%.",
    "Share held back while training, to choose the best checkpoint and stop early.",
    "Share held back until evaluation, to measure the student against the teacher and "
    "the quality floor. Never seen in training.",
)


def rebalance(values: tuple[int, int, int], changed: int, new: int) -> tuple[int, int, int]:
    """``values`` with ``values[changed] = new``, the others adjusted so all sum to 100.

    Train keeps at least 1. Changing train takes from (or gives to) test first, then
    validation; changing validation or test takes from train, then from the other one.
    """
    floor = (1, 0, 0)
    new = max(floor[changed], min(100 - sum(floor) + floor[changed], new))
    result = list(values)
    result[changed] = new
    order = (2, 1) if changed == 0 else (0, 3 - changed)
    excess = sum(result) - 100
    for other in order:
        if excess == 0:
            break
        take = min(excess, result[other] - floor[other]) if excess > 0 else excess
        result[other] -= take
        excess -= take
    return result[0], result[1], result[2]


class SplitSliders(QWidget):
    """Three linked sliders with spin boxes (percent) and a seed; emits ``changed``."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        train, validation, test = (round(share * 100) for share in _DEFAULTS["split"])
        self._values = (train, validation, test)
        self._updating = False
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.sliders: list[QSlider] = []
        self.spins: list[QSpinBox] = []
        for row, (label_text, tip) in enumerate(zip(_LABELS, _TIPS, strict=True)):
            slider = QSlider(Qt.Orientation.Horizontal, self)
            slider.setRange(0, 100)
            spin = QSpinBox(self)
            spin.setRange(0, 100)
            spin.setSuffix(" %")
            label = QLabel(label_text, self)
            label.setBuddy(spin)
            for widget in (slider, spin, label):
                widget.setToolTip(tip)
            slider.setAccessibleName(f"{SPLITS[row]} share")
            spin.setAccessibleName(f"{SPLITS[row]} percent")
            slider.valueChanged.connect(lambda value, r=row: self._on_change(r, value))
            spin.valueChanged.connect(lambda value, r=row: self._on_change(r, value))
            grid.addWidget(label, row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(spin, row, 2)
            self.sliders.append(slider)
            self.spins.append(spin)
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(_DEFAULTS["seed"])
        self.seed.setToolTip(
            "The shuffle seed: the same file and seed always give the same split. Change it "
            "only to check that results do not depend on one lucky split."
        )
        self.seed.setAccessibleName("split seed")
        seed_label = QLabel("See&d", self)
        seed_label.setBuddy(self.seed)
        seed_label.setToolTip(self.seed.toolTip())
        self.seed.valueChanged.connect(self.changed)
        grid.addWidget(seed_label, 3, 0)
        grid.addWidget(self.seed, 3, 2)
        grid.setColumnStretch(1, 1)
        self._show()

    def fractions(self) -> tuple[float, float, float]:
        """The shares as fractions summing to exactly 1."""
        train, validation, test = self._values
        return train / 100, validation / 100, test / 100

    def set_percents(self, train: int, validation: int, test: int) -> None:
        if train + validation + test != 100 or train < 1:
            raise ValueError("the split must sum to 100 with train at least 1")
        self._values = (train, validation, test)
        self._show()
        self.changed.emit()

    def _on_change(self, row: int, value: int) -> None:
        if self._updating or value == self._values[row]:
            return
        self._values = rebalance(self._values, row, value)
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        self._updating = True
        try:
            for slider, spin, value in zip(self.sliders, self.spins, self._values, strict=True):
                slider.setValue(value)
                spin.setValue(value)
        finally:
            self._updating = False
