"""The "is distillation worth it" calculator: inputs on the left, the arithmetic's answer
(``core.evaluate.worth_it``) on the right, and the student's measured figures once an
evaluation ran."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.evaluate.worth_it import (
    PRICE_MISSING,
    StudentMeasurement,
    WorthItEstimate,
    WorthItInputs,
    estimate_worth_it,
)

UNKNOWN = "unknown"
NOT_ENTERED = "not entered"


class WorthItForm(QWidget):
    """Edits :class:`WorthItInputs` and shows the estimate; ``changed`` fires on edits.

    A figure left at 0 reads "not entered": nothing is priced from a number nobody typed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._measured: StudentMeasurement | None = None
        self.daily = QSpinBox(self)
        self.daily.setRange(0, 2_000_000_000)
        self.daily.setGroupSeparatorShown(True)
        self.daily.setSingleStep(1000)
        self.daily.setSpecialValueText(NOT_ENTERED)
        self.daily.setToolTip("How many requests the model would answer on a typical day.")
        self.price = _money_spin(self, "What the teacher costs, per the unit on the right.")
        self.basis = QComboBox(self)
        self.basis.addItem("per 1,000 requests", "per_1k_requests")
        self.basis.addItem("per 1 million tokens", "per_1m_tokens")
        self.basis.setToolTip("How the teacher's provider bills: by request or by token.")
        self.tokens = QSpinBox(self)
        self.tokens.setRange(0, 1_000_000)
        self.tokens.setSpecialValueText(NOT_ENTERED)
        self.tokens.setToolTip("Input plus output tokens of a typical request (token billing).")
        self.currency = QLineEdit(self)
        self.currency.setMaxLength(12)
        self.currency.setPlaceholderText("e.g. EUR")
        self.currency.setToolTip("The currency of the prices; shown with every amount.")
        self.teacher_latency = _ms_spin(self, "How long the teacher takes to answer, if known.")
        self.latency_need = _ms_spin(self, "The slowest answer your application accepts.")
        self.hardware = _money_spin(
            self, "What an hour of the machine that would serve the student costs."
        )
        price_row = QWidget(self)
        row = QHBoxLayout(price_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.price)
        row.addWidget(self.basis)
        row.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Requests per day", self.daily)
        form.addRow("Currency", self.currency)
        form.addRow("Teacher price", price_row)
        form.addRow("Tokens per request", self.tokens)
        form.addRow("Teacher latency", self.teacher_latency)
        form.addRow("Latency you need", self.latency_need)
        form.addRow("Serving hardware per hour", self.hardware)
        self.answer = _answer_label(self, "worthItAnswer")
        self.measured_label = _answer_label(self, "worthItMeasured")
        answers = QVBoxLayout()
        answers.addWidget(self.answer)
        answers.addWidget(self.measured_label)
        answers.addStretch(1)
        columns = QHBoxLayout(self)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.addLayout(form, 1)
        columns.addLayout(answers, 1)
        self.set_inputs(WorthItInputs())
        for spin in (self.daily, self.tokens):
            spin.valueChanged.connect(self._edited)
        for dspin in (self.price, self.teacher_latency, self.latency_need, self.hardware):
            dspin.valueChanged.connect(self._edited)
        self.basis.currentIndexChanged.connect(self._edited)
        self.currency.textEdited.connect(self._edited)

    # -- values ----------------------------------------------------------------------------

    def inputs(self) -> WorthItInputs:
        return WorthItInputs(
            daily_requests=float(self.daily.value()) or None,
            price=_optional(self.price),
            price_basis=self.basis.currentData(),
            tokens_per_request=float(self.tokens.value()) or None,
            teacher_latency_ms=_optional(self.teacher_latency),
            latency_need_ms=_optional(self.latency_need),
            hardware_cost_per_hour=_optional(self.hardware),
            currency=self.currency.text().strip(),
        )

    def set_inputs(self, inputs: WorthItInputs) -> None:
        self.daily.setValue(int(inputs.daily_requests or 0))
        self.price.setValue(inputs.price or 0.0)
        self.basis.setCurrentIndex(max(self.basis.findData(inputs.price_basis), 0))
        self.tokens.setValue(int(inputs.tokens_per_request or 0))
        self.teacher_latency.setValue(inputs.teacher_latency_ms or 0.0)
        self.latency_need.setValue(inputs.latency_need_ms or 0.0)
        self.hardware.setValue(inputs.hardware_cost_per_hour or 0.0)
        self.currency.setText(inputs.currency)
        self.update_answer()

    def set_measured(self, measured: StudentMeasurement | None) -> None:
        self._measured = measured
        self.update_answer()

    def estimate(self) -> WorthItEstimate:
        return estimate_worth_it(self.inputs(), self._measured)

    # -- rendering -------------------------------------------------------------------------

    def _edited(self) -> None:
        self.update_answer()
        self.changed.emit()

    def update_answer(self) -> None:
        self.tokens.setEnabled(self.basis.currentData() == "per_1m_tokens")
        inputs = self.inputs()
        estimate = estimate_worth_it(inputs, self._measured)
        self.answer.setText(teacher_sentences(inputs, estimate))
        self.measured_label.setText(measured_sentences(inputs, estimate, self._measured))


def teacher_sentences(inputs: WorthItInputs, estimate: WorthItEstimate) -> str:
    """The teacher's side in plain sentences; what to enter where a figure is missing."""
    per_request = estimate.teacher_cost_per_request
    if per_request is None:
        lines = [f"{PRICE_MISSING[0].upper()}{PRICE_MISSING[1:]}."]
    elif estimate.teacher_yearly_cost is None:
        lines = [
            f"The teacher costs {inputs.money(per_request, 5)} a request; enter the daily "
            "volume to see what that comes to in a year."
        ]
    else:
        lines = [
            f"The teacher costs {inputs.money(per_request, 5)} a request: "
            f"{inputs.money(estimate.teacher_yearly_cost)} a year for "
            f"{estimate.requests_per_year or 0:,.0f} requests."
        ]
    if estimate.required_throughput_per_s is not None:
        lines.append(
            f"To cost less on hardware at {inputs.money(inputs.hardware_cost_per_hour or 0)} "
            f"an hour, a student must answer at least {estimate.required_throughput_per_s:,.1f} "
            "requests a second when kept busy."
        )
    elif per_request == 0:
        lines.append("The teacher costs nothing per request, so a student saves no fees.")
    if inputs.latency_need_ms is not None:
        lines.append(f"It must also answer within {inputs.latency_need_ms:,.0f} ms.")
        if estimate.teacher_meets_latency is False:
            lines.append("The teacher is slower than that today.")
    return "\n".join(lines)


def measured_sentences(
    inputs: WorthItInputs, estimate: WorthItEstimate, measured: StudentMeasurement | None
) -> str:
    """The shipped model's measured side, or what it takes to get it."""
    if measured is None:
        return "Run an evaluation to fill in the student's measured speed and cost."
    who = f" ({measured.title})" if measured.title else ""
    parts = [f"Measured in the latest evaluation ({measured.run_id}){who}:"]
    if measured.latency_p95_ms is not None:
        verdict = {True: " (fast enough)", False: " (too slow)", None: ""}
        parts.append(
            f"the student answers within {measured.latency_p95_ms:,.1f} ms for 95 % of "
            f"requests{verdict[estimate.student_meets_latency]}."
        )
    if measured.throughput_per_s is not None:
        parts.append(f"It serves {measured.throughput_per_s:,.0f} requests a second.")
    if estimate.student_yearly_cost is not None:
        parts.append(f"It would cost {inputs.money(estimate.student_yearly_cost)} a year")
        parts[-1] += (
            "; enter the teacher's price to see savings."
            if estimate.yearly_saving is None
            else f", saving {inputs.money(estimate.yearly_saving)} a year against the teacher."
        )
    elif measured.throughput_per_s is not None:
        parts.append("Enter the daily volume and the hardware's cost per hour to see its cost.")
    return " ".join(parts)


def _answer_label(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


def _money_spin(parent: QWidget, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(parent)
    spin.setRange(0.0, 1_000_000.0)
    spin.setDecimals(4)
    spin.setGroupSeparatorShown(True)
    spin.setSpecialValueText(NOT_ENTERED)  # 0 reads as "not entered": never a made-up price
    spin.setToolTip(tip + " In the currency above; leave at 'not entered' if unknown.")
    return spin


def _ms_spin(parent: QWidget, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(parent)
    spin.setRange(0.0, 600_000.0)
    spin.setDecimals(0)
    spin.setSuffix(" ms")
    spin.setSpecialValueText(UNKNOWN)  # 0 reads as "unknown"
    spin.setToolTip(tip + " Leave at 'unknown' if you do not know.")
    return spin


def _optional(spin: QDoubleSpinBox) -> float | None:
    return spin.value() or None
