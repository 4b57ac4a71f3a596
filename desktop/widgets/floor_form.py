"""The quality-floor fields: minimum retention, optional minimum metric and maximum ECE."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QWidget

from core.project import QualityFloor

FLOOR_EXPLANATION = (
    "The quality floor is the bar a student must clear before Stillroom will export it: it "
    "must keep at least this share of the teacher's score on held-out data, and optionally "
    "reach an absolute score and stay well calibrated. It is set now, before anything is "
    "trained, on purpose: once a student's result is on the screen it is tempting to move "
    "the bar to meet it. Decide what is good enough for the people who will rely on the "
    "answers while nobody knows what the student will reach; from the first training run "
    "on, the floor is fixed and every later check is made against it."
)


class FloorForm(QWidget):
    """Edits a :class:`QualityFloor`; ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.retention = QDoubleSpinBox(self)
        self.retention.setRange(1.0, 100.0)
        self.retention.setDecimals(1)
        self.retention.setSuffix(" %")
        self.retention.setValue(95.0)
        self.retention.setToolTip(
            "The student must keep at least this share of the teacher's score on the test "
            "set. 95 % means: if the teacher scores 0.90, the student must score 0.855 or more."
        )
        self.retention.setAccessibleName("Minimum retention of the teacher's score")
        self.use_min_metric = QCheckBox("Also require a score of at least", self)
        self.use_min_metric.setToolTip(
            "An absolute bar on the student's own score (accuracy or F1 for classification, "
            "ROUGE-L for generation), whatever the teacher reaches."
        )
        self.min_metric = _unit_spin(self, 0.80, "The lowest score the student may have (0-1).")
        self.use_max_ece = QCheckBox("Also require calibration error at most", self)
        self.use_max_ece.setToolTip(
            "Expected calibration error: how far the student's confidence is from how often "
            "it is right. 0.05 means its stated confidence is off by 5 points on average."
        )
        self.max_ece = _unit_spin(self, 0.05, "The highest calibration error allowed (0-1).")
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Keep at least", self.retention)
        form.addRow(_pair(self.use_min_metric, self.min_metric))
        form.addRow(_pair(self.use_max_ece, self.max_ece))
        self.use_min_metric.toggled.connect(self.min_metric.setEnabled)
        self.use_max_ece.toggled.connect(self.max_ece.setEnabled)
        self.min_metric.setEnabled(False)
        self.max_ece.setEnabled(False)
        for box in (self.use_min_metric, self.use_max_ece):
            box.toggled.connect(self.changed)
        for spin in (self.retention, self.min_metric, self.max_ece):
            spin.valueChanged.connect(self.changed)

    def floor(self) -> QualityFloor:
        return QualityFloor(
            min_retention=round(self.retention.value() / 100.0, 4),
            min_metric=self.min_metric.value() if self.use_min_metric.isChecked() else None,
            max_ece=self.max_ece.value() if self.use_max_ece.isChecked() else None,
        )

    def set_floor(self, floor: QualityFloor) -> None:
        self.retention.setValue(floor.min_retention * 100.0)
        self.use_min_metric.setChecked(floor.min_metric is not None)
        if floor.min_metric is not None:
            self.min_metric.setValue(floor.min_metric)
        self.use_max_ece.setChecked(floor.max_ece is not None)
        if floor.max_ece is not None:
            self.max_ece.setValue(floor.max_ece)

    def set_read_only(self, read_only: bool) -> None:
        for box in (self.use_min_metric, self.use_max_ece):
            box.setEnabled(not read_only)
        self.retention.setEnabled(not read_only)
        self.min_metric.setEnabled(not read_only and self.use_min_metric.isChecked())
        self.max_ece.setEnabled(not read_only and self.use_max_ece.isChecked())


def _unit_spin(parent: QWidget, value: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(parent)
    spin.setRange(0.0, 1.0)
    spin.setDecimals(3)
    spin.setSingleStep(0.01)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def _pair(box: QCheckBox, spin: QDoubleSpinBox) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(box)
    layout.addWidget(spin)
    layout.addStretch(1)
    layout.setAlignment(Qt.AlignmentFlag.AlignLeft)
    return row
