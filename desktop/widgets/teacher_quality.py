"""The Teacher page's "How good is the teacher?" box: the teacher's agreement with the
human labels on held-out rows only (validation and test), and a summary of its last run."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.teacher.config import TeachResult
from desktop.widgets.form_fields import wrapped_label

_HELD_OUT_NOTE = (
    "Scored on held-out rows only (validation and test): a teacher fine-tuned here has seen "
    "the train split, so agreement there would flatter it."
)
_LABELS_NOTE = (
    "The teacher is the human labels themselves, so comparing it with them says nothing "
    "(it agrees 100% by definition). Evaluate the student to see how well it learnt them."
)


class TeacherQuality(QGroupBox):
    """Held-out agreement table, a note on what it measures, the run's summary."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("How good is the teacher?", parent)
        self.accuracy_table = _accuracy_table(self)
        self.summary = wrapped_label("", self, "teachSummary", plain=True)
        self.held_out_note = wrapped_label("", self, "teacherHeldOut", plain=True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.held_out_note)
        layout.addWidget(self.accuracy_table, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.summary)

    def show_result(self, result: TeachResult | None) -> None:
        """The last teach run's agreement with the human labels, held-out rows only."""
        from core.teacher.guide import held_out
        from core.teacher.labels_teacher import TEACHER_ID

        human = result is not None and result.teacher_id == TEACHER_ID
        scored = {} if result is None or human else held_out(result.accuracy, result.accuracy_n)
        self.held_out_note.setText(
            _LABELS_NOTE if human else _HELD_OUT_NOTE if result is not None else ""
        )
        self.accuracy_table.setRowCount(len(scored))
        generation = result is not None and result.task == "generation"
        header = "ROUGE-L vs reference texts" if generation else "Agrees with human labels"
        self.accuracy_table.setHorizontalHeaderItem(1, QTableWidgetItem(header))
        for row, (split, (value, count)) in enumerate(scored.items()):
            shown = f"{value:.3f}" if generation else f"{value:.1%}"
            cells = (split, shown, f"{count:,}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.accuracy_table.setItem(row, column, item)
        self.accuracy_table.setVisible(bool(scored))
        _fit_to_contents(self.accuracy_table)
        self.summary.setText(_describe(result))


def _accuracy_table(parent: Any) -> QTableWidget:
    table = QTableWidget(0, 3, parent)
    table.setObjectName("teacherAccuracy")
    table.setAccessibleName("Teacher accuracy against the human labels")
    table.setHorizontalHeaderLabels(("Split", "Agrees with human labels", "Records compared"))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setToolTip(
        "How often the teacher's answer equals the human label on held-out rows. The "
        "student can rarely beat its teacher, so this is the ceiling for what follows."
    )
    return table


def _fit_to_contents(table: QTableWidget) -> None:
    """As wide and tall as its columns and rows: a percentage beside its count, not a
    page-width apart."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    for column in range(table.columnCount()):  # room to breathe between the columns
        table.setColumnWidth(column, table.columnWidth(column) + 16)
    frame = 2 * table.frameWidth()
    table.setFixedWidth(header.length() + frame)
    table.setFixedHeight(header.height() + table.verticalHeader().length() + frame)


def _describe(result: TeachResult | None) -> str:
    if result is None:
        return "The teacher has not answered yet. Choose a source above and label the records."
    lines = [
        f"Teacher {result.teacher_id}: {result.labelled:,} records answered in the last run "
        f"({result.records_per_s:,.1f}/s); {result.invalid:,} invalid answers (training "
        f"skips them); {result.failed:,} records left for a re-run; total cost "
        f"{result.cost_total:,.4f}.",
    ]
    if not result.accuracy:
        lines.append(
            "No record has a reference text, so the teacher's ROUGE-L is unknown."
            if result.task == "generation"
            else "No record has a human label, so the teacher's accuracy is unknown."
        )
    lines += [f"Note: {warning}" for warning in result.warnings]
    return "\n".join(lines)
