"""The evaluate page's result panel: the recommendation, the verdict, the key figures with
their 95% intervals, and one tab per detail.

It renders a stored :class:`core.evaluate.config.EvaluateResult` (and the reliability curves
of its ``reliability.json``) and computes nothing: every number was measured and stored by
the evaluate stage. A result stored by an older release lacks the per-set details; the
panel shows what it has and says to evaluate again for the rest.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.evaluate.config import STUDENT, EvaluateResult, HeadlineRow, SetSummary
from core.evaluate.figures import ReliabilityCurve
from core.evaluate.uncertainty import Interval
from desktop.widgets.confusion_matrix import ConfusionMatrixView
from desktop.widgets.recommendation_panel import RecommendationPanel
from desktop.widgets.reliability_chart import ReliabilityChart
from desktop.widgets.result_tables import DASH, fill_table, fit_height, fmt, read_only_table, when

_BADGE = {
    True: ("PASS", "background:#e3f4e8;border:1px solid #4c9a64;color:#1f5a32;"),
    False: ("FAIL", "background:#fbe7e5;border:1px solid #c0392b;color:#7a1f16;"),
}
_OLDER = (
    "This evaluation was stored by an earlier version of Stillroom: evaluate again to see "
    "the per-class figures, the confusion matrix, the calibration curves, speed and cost, "
    "and the edge-case checks."
)
_SPEED_ROWS = (
    ("Latency p50 (ms, one request)", "p50_ms", 1),
    ("Latency p95 (ms, one request)", "p95_ms", 1),
    ("Throughput (requests/s, batches of 32)", "throughput_per_s", 1),
    ("Size (MB)", "size_mb", 1),
    ("Cost per 1M requests", "cost_per_million", 2),
    ("CPU threads", "threads", 0),
)


METRIC_NAMES = {"macro_f1": "macro-F1", "rouge_l": "ROUGE-L", "accuracy": "accuracy"}


class EvaluationResults(QWidget):
    """Verdict, key figures and detail tabs of one finished evaluation."""

    open_report_requested = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: EvaluateResult | None = None
        self.curves: tuple[ReliabilityCurve, ...] = ()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.recommendation = RecommendationPanel(self)
        layout.addWidget(self.recommendation)
        layout.addWidget(self._build_verdict())
        layout.addLayout(self._build_figures())
        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Evaluation details")
        self._build_tabs()
        layout.addWidget(self.tabs, 1)

    # -- layout ----------------------------------------------------------------------------

    def _build_verdict(self) -> QFrame:
        frame = QFrame(self)
        frame.setObjectName("verdictFrame")
        self.badge = QLabel(DASH, frame)
        self.badge.setObjectName("verdictBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setMinimumWidth(110)
        self.headline = QLabel(frame)
        self.headline.setObjectName("verdictHeadline")
        self.headline.setStyleSheet("font-size:16px;font-weight:600;")
        self.headline.setWordWrap(True)
        self.reason = QLabel(frame)
        self.reason.setObjectName("verdictReason")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.when = QLabel(frame)
        self.when.setProperty("role", "explanation")
        self.older = QLabel(_OLDER, frame)
        self.older.setWordWrap(True)
        self.older.setObjectName("warningText")
        self.open_report = QPushButton("Open report", frame)
        self.open_report.setToolTip(
            "Open the full report (report.html: numbers and plots, no record text) in your "
            "browser; it can be handed to a reviewer."
        )
        self.open_report.clicked.connect(self._open_report)
        text = QVBoxLayout()
        text.addWidget(self.headline)
        text.addWidget(self.reason)
        text.addWidget(self.when)
        text.addWidget(self.older)
        row = QHBoxLayout(frame)
        row.addWidget(self.badge)
        row.addLayout(text, 1)
        row.addWidget(self.open_report, 0, Qt.AlignmentFlag.AlignTop)
        return frame

    def _build_figures(self) -> QGridLayout:
        grid = QGridLayout()
        self.figures: dict[str, QLabel] = {}
        self.intervals: dict[str, QLabel] = {}
        names = ("retention", "agreement", "metric", "ece", "temperature")
        captions = {
            "retention": "Retention (student ÷ teacher)",
            "agreement": "Agreement with the teacher",
            "metric": "Student metric",
            "ece": "Calibration error (ECE), before → after",
            "temperature": "Temperature applied",
        }
        self.captions: dict[str, QLabel] = {}
        for column, name in enumerate(names):
            caption = QLabel(captions[name], self)
            self.captions[name] = caption
            caption.setObjectName("figureCaption")
            caption.setStyleSheet("color:#5f6b7a;")
            caption.setWordWrap(True)
            value = QLabel(DASH, self)
            value.setObjectName("figureValue")
            value.setStyleSheet("font-size:20px;font-weight:600;")
            value.setAccessibleName(captions[name])
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            interval = QLabel(self)
            interval.setObjectName("figureInterval")
            interval.setStyleSheet("color:#5f6b7a;font-size:12px;")
            interval.setWordWrap(True)
            interval.setAccessibleName(f"{captions[name]}: 95% interval")
            grid.addWidget(value, 0, column)
            grid.addWidget(interval, 1, column, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(caption, 2, column, Qt.AlignmentFlag.AlignTop)
            self.figures[name] = value
            self.intervals[name] = interval
        return grid

    def _build_tabs(self) -> None:
        self.class_table = read_only_table(
            ["Label", "Rows", "Student precision", "Student recall", "Student F1",
             "Teacher precision", "Teacher recall", "Teacher F1", "Retention"],
            "Per-class figures",
        )  # fmt: skip
        self.worst_class = QLabel(self)
        self.worst_class.setWordWrap(True)
        self.tabs.addTab(_tab(self, self.worst_class, self.class_table), "Per class")
        self.confusion = ConfusionMatrixView(self)
        self.tabs.addTab(self.confusion, "Confusion matrix")
        self.tabs.addTab(self._build_calibration(), "Calibration")
        self.speed_table = read_only_table(["Measure"], "Speed, size and cost")
        self.cost_note = QLabel(self)
        self.cost_note.setWordWrap(True)
        self.tabs.addTab(_tab(self, self.speed_table, self.cost_note), "Speed, size and cost")
        self.edge_verdict = QLabel(self)
        self.edge_verdict.setWordWrap(True)
        self.edge_table = read_only_table(["Model", "Metric", "Retention", "Agreement"], "Edge")
        self.tabs.addTab(_tab(self, self.edge_verdict, self.edge_table), "Edge cases")
        self.notes = QListWidget(self)
        self.notes.setAccessibleName("Notes")
        self.notes.setWordWrap(True)
        self.tabs.addTab(self.notes, "Notes")

    def _build_calibration(self) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        picker = QHBoxLayout()
        label = QLabel("&Model:", box)
        self.curve_model = QComboBox(box)
        self.curve_model.setToolTip("Whose calibration to show (test set).")
        label.setBuddy(self.curve_model)
        self.curve_model.currentIndexChanged.connect(self._show_curve)
        picker.addWidget(label)
        picker.addWidget(self.curve_model, 1)
        self.chart = ReliabilityChart(box)
        self.temperature_note = QLabel(box)
        self.temperature_note.setWordWrap(True)
        self.temperature_note.setProperty("role", "explanation")
        column.addWidget(self.temperature_note)
        column.addLayout(picker)
        column.addWidget(self.chart, 1)
        return box

    # -- rendering -------------------------------------------------------------------------

    def show_result(
        self,
        result: EvaluateResult,
        finished: str | None,
        curves: tuple[ReliabilityCurve, ...] = (),
    ) -> None:
        """Render one stored evaluation (``finished``: when its run ended)."""
        self.result, self.curves = result, curves
        metric = METRIC_NAMES.get(result.primary_metric, result.primary_metric)
        self.captions["metric"].setText(f"Student {metric}")
        self.figures["metric"].setAccessibleName(f"Student {metric}")
        word, style = _BADGE[result.passed]
        self.badge.setText(word)
        self.badge.setStyleSheet(style + "font-size:26px;font-weight:700;padding:10px 18px;")
        self.badge.setAccessibleName(f"Verdict: {word}")
        sets = "the test and edge-case sets" if result.strict_edge else "the test set"
        judged = result.row("test", result.judged)
        who = "The student" if judged is None else f"The {judged.title}"
        self.headline.setText(
            f"{who} meets the quality floor on {sets}."
            if result.passed
            else f"{who} does not meet the quality floor."
        )
        self.reason.setText(_capitalised(result.reason()) + ".")
        self.when.setText(f"Evaluated {when(finished)} · run {result.run_id}")
        self.older.setVisible(not result.complete)
        self.open_report.setEnabled(result.report_html.is_file())
        self.recommendation.show_result(result)
        self.temperature_note.setText(result.temperature_note)
        test = result.set("test")
        self._show_figures(result)
        self._show_classes(test)
        self._show_confusion(result, test)
        self._show_speed(result)
        self._show_edge(result)
        self._show_calibration_models()
        self.notes.clear()
        self.notes.addItems(list(result.notes) or ["No notes."])

    def _show_figures(self, result: EvaluateResult) -> None:
        student = result.row("test", result.judged) or result.row("test", STUDENT)
        values = {
            "retention": fmt(student.retention if student else None),
            "agreement": fmt(student.agreement if student else None),
            "metric": fmt(student.metric if student else None),
            "ece": f"{fmt(student.ece if student else None)} → "
            f"{fmt(student.ece_calibrated if student else None)}",
            "temperature": fmt(result.temperature),
        }
        for name, text in values.items():
            self.figures[name].setText(text)
        self.figures["metric"].setToolTip(f"{result.primary_metric} on the test set")
        self.figures["temperature"].setToolTip(result.temperature_note)
        for name, interval in _intervals(student).items():
            after = " (after)" if name == "ece" else ""
            shown = "" if interval is None else f"95%{after}: {interval.text()}"
            self.intervals[name].setText(shown)

    def _show_classes(self, test: SetSummary | None) -> None:
        rows = []
        for c in test.classes if test else ():
            student = [fmt(v) for v in c.student] if c.student else [DASH] * 3
            teacher = [fmt(v) for v in c.teacher] if c.teacher else [DASH] * 3
            rows.append([c.label, f"{c.support:,}", *student, *teacher, fmt(c.retention)])
        fill_table(self.class_table, rows)
        fit_height(self.class_table)
        worst = None if test is None else test.worst_class
        kept = {c.label: c.retention for c in test.classes} if test else {}
        self.worst_class.setVisible(worst is not None)
        self.worst_class.setText(
            f"Worst class: {worst}, where the student keeps {fmt(kept.get(worst))} of the "
            "teacher's F1 (test set)."
        )

    def _show_confusion(self, result: EvaluateResult, test: SetSummary | None) -> None:
        if test is None or test.confusion is None:
            self.confusion.set_matrix((), ())
            return
        self.confusion.set_matrix(result.labels, test.confusion, title="Student, test set")

    def _show_speed(self, result: EvaluateResult) -> None:
        table, speed = self.speed_table, result.speed
        table.setColumnCount(1 + len(speed))
        table.setHorizontalHeaderLabels(["Measure", *(s.title for s in speed)])
        rows = [
            [label, *(fmt(getattr(s, key), digits) for s in speed)]
            for label, key, digits in _SPEED_ROWS
        ]
        fill_table(table, rows if speed else [])
        fit_height(table)
        self.cost_note.setText(_cost_note(result))

    def _show_edge(self, result: EvaluateResult) -> None:
        edge = result.set("edge")
        if edge is None:
            self.edge_verdict.setText(
                _OLDER
                if not result.complete
                else "No edge-case set: nothing was held out as an edge case when the data "
                "was imported, or it has nothing to compare against."
            )
            fill_table(self.edge_table, [])
            fit_height(self.edge_table)
            return
        state = "passes" if edge.verdict.passed else "FAILS"
        role = "decides the verdict" if result.strict_edge else "is shown, the test set decides"
        checks = "; ".join(c.describe() for c in edge.verdict.checks)
        self.edge_verdict.setText(
            f"The edge-case set ({edge.rows:,} rows) {state}: {checks}. It {role}."
        )
        models = [r for r in result.headline if r.split == "edge"]
        fill_table(
            self.edge_table,
            [[m.title, fmt(m.metric), fmt(m.retention), fmt(m.agreement)] for m in models],
        )
        fit_height(self.edge_table)

    def _show_calibration_models(self) -> None:
        models = dict.fromkeys((c.model, c.title) for c in self.curves if c.split == "test")
        self.curve_model.blockSignals(True)
        self.curve_model.clear()
        for model, title in models:
            self.curve_model.addItem(title, model)
        self.curve_model.setCurrentIndex(max(self.curve_model.findData(STUDENT), 0))
        self.curve_model.blockSignals(False)
        self._show_curve()

    def _show_curve(self) -> None:
        model = self.curve_model.currentData()
        picked = [c for c in self.curves if c.split == "test" and c.model == model]
        before = next((c for c in picked if not c.calibrated), None)
        after = next((c for c in picked if c.calibrated), None)
        title = "" if before is None else f"{before.title}, test set"
        self.chart.set_curves(before, after, title=title)

    def _open_report(self) -> None:
        if self.result is not None:
            self.open_report_requested.emit(self.result.report_html)


def _intervals(row: HeadlineRow | None) -> dict[str, Interval | None]:
    """The 95% interval under each key figure (the ECE's: after the temperature)."""
    if row is None:
        return {"retention": None, "agreement": None, "metric": None, "ece": None}
    return {"retention": row.retention_ci, "agreement": row.agreement_ci,
            "metric": row.metric_ci, "ece": row.ece_ci}  # fmt: skip


def _tab(parent: QWidget, *widgets: QWidget) -> QWidget:
    """A tab page holding ``widgets`` at the top (tables sized to their rows)."""
    page = QWidget(parent)
    column = QVBoxLayout(page)
    for widget in widgets:
        column.addWidget(widget)
    column.addStretch(1)
    return page


def _capitalised(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def _cost_note(result: EvaluateResult) -> str:
    if not result.complete:
        return _OLDER
    if all(s.p50_ms is None for s in result.speed):
        return "Speed was not timed in this evaluation (the settings above turn it on)."
    cost = result.cost
    if cost is None:
        return ""
    unit = f" {cost.currency}" if cost.currency else ""
    rate = cost.hardware_cost_per_hour
    text = (
        "Costs come only from figures you entered on the Project page or Stillroom measured"
        + ("; no hardware cost per hour was entered, so none is shown." if rate is None
           else f", with hardware at {rate:g}{unit} an hour.")
    )  # fmt: skip
    if cost.teacher_per_million is None:
        text += " Enter the teacher's price to see savings."
    if cost.one_off_cost is not None and cost.breakeven_per_day is not None:
        text += (
            f" The one-off cost ({cost.one_off_cost:,.2f}{unit}: teacher labelling and "
            f"training) is repaid at about {cost.breakeven_per_day:,.0f} requests a day within "
            f"{cost.payback_days} days."
        )
    return text
