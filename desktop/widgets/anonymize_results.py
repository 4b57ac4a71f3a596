"""The anonymize page's results: counts per entity type, a highlighted preview, the records
flagged for review.

Fed from ``core.anonymize.review`` only: anonymized text, span offsets into it, counts and
review reasons. No original value ever reaches this widget.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.anonymize.explain import ENTITY_DESCRIPTIONS, review_reason_text
from core.anonymize.review import AnonymizeOverview, ReviewItem
from desktop.widgets.empty_placeholder import EmptyPlaceholder
from desktop.widgets.form_fields import wrapped_label
from desktop.widgets.result_tables import fit_height
from desktop.widgets.review_actions import ReasonFilter, ReviewActionBar
from desktop.widgets.span_highlighter import EntityLegend, SpanTextView, entity_swatch

NOT_RUN = "Run anonymization first: the records that need a person's look appear here."
# The preview's and the review list's height: the page shows this column at its natural
# height, top-aligned beside the long entity list, rather than stretched to match it.
PANE_HEIGHT = 320


class AnonymizeResultsView(QWidget):
    """Counts, preview and review list; emits ``next_requested`` for more preview records,
    and the review actions with the record they concern (the page acts on them)."""

    next_requested = Signal()
    reason_changed = Signal(str)  # "" for every reason
    reviewed = Signal(int)  # record id
    remove_requested = Signal(int, int)  # record id, index of the span at the cursor
    add_requested = Signal(int, int, int, str)  # record id, start, end, entity type
    term_requested = Signal(str, bool, str)  # the selected words, allow?, entity type

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._flagged: list[ReviewItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_counts())
        layout.addWidget(self._build_preview())
        self.review_box = self._build_review()
        layout.addWidget(self.review_box)

    def _build_counts(self) -> QGroupBox:
        box = QGroupBox("Replaced values", self)
        self.overview = wrapped_label("Nothing anonymized yet.", box, "anonymizeOverview")
        self.counts = QTableWidget(0, 2, box)
        self.counts.setObjectName("entityCounts")
        self.counts.setHorizontalHeaderLabels(["Entity type", "Replaced"])
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.setTabKeyNavigation(False)
        self.counts.verticalHeader().setVisible(False)
        self.counts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.counts.setToolTip(
            "Values replaced per entity type, over every anonymized record. The square is the "
            "colour that highlights that type in the preview."
        )
        self.counts.setAccessibleName("replaced values per entity type")
        self.counts_placeholder = EmptyPlaceholder(self.counts, "Nothing replaced yet.")
        title = QLabel("Replaced &counts", box)
        title.setBuddy(self.counts)
        layout = QVBoxLayout(box)
        layout.addWidget(self.overview)
        layout.addWidget(title)
        layout.addWidget(self.counts)
        return box

    def _build_preview(self) -> QGroupBox:
        box = QGroupBox("Preview (anonymized text only)", self)
        self.legend = EntityLegend(box)
        self.preview = SpanTextView(box)
        self.preview.setObjectName("anonymizedPreview")
        self.preview.setToolTip(
            "A few records as the teacher will see them: replaced spans are highlighted by "
            "entity type. The original text is never shown here."
        )
        self.preview.setAccessibleName("anonymized preview")
        self.preview.setPlaceholderText("A few anonymized records appear here after a run.")
        self.preview.setMinimumHeight(PANE_HEIGHT)
        title = QLabel("Pr&eview", box)
        title.setBuddy(self.preview)
        self.next_button = QPushButton("Show ne&xt records", box)
        self.next_button.setToolTip("Show the next few anonymized records.")
        self.next_button.clicked.connect(self.next_requested)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.next_button)
        layout = QVBoxLayout(box)
        layout.addLayout(top)
        layout.addWidget(self.legend)
        layout.addWidget(self.preview, 1)
        return box

    def _build_review(self) -> QGroupBox:
        box = QGroupBox("Needs review", self)
        self.nothing_flagged = wrapped_label(NOT_RUN, box, "nothingFlagged")
        self.nothing_flagged.setProperty("role", "explanation")
        # The list and the record beside it; hidden while nothing is flagged, so the box
        # holds one sentence instead of two empty panes.
        self.review_body = self._build_review_body(box)
        layout = QVBoxLayout(box)
        layout.addWidget(self.nothing_flagged)
        layout.addWidget(self.review_body, 1)
        return box

    def _build_review_body(self, parent: QWidget) -> QWidget:
        body = QWidget(parent)
        self.flagged = QListWidget(body)
        self.flagged.setObjectName("flaggedRecords")
        self.flagged.setToolTip(
            "Records a person should look at before the teacher sees them, with the reason."
        )
        self.flagged.setAccessibleName("records flagged for review")
        self.flagged.currentRowChanged.connect(self._show_flagged)
        self.flagged.setMinimumWidth(180)
        self.flagged.setWordWrap(True)  # a long list of reasons wraps, no sideways scrolling
        self.flagged.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        title = QLabel("Records &flagged for review", body)
        title.setBuddy(self.flagged)
        self.reason_filter = ReasonFilter(body)
        self.reason_filter.currentIndexChanged.connect(
            lambda _: self.reason_changed.emit(self.reason_filter.reason())
        )
        self.actions = ReviewActionBar(body)
        self.actions.reviewed.connect(self._emit_reviewed)
        self.actions.remove_requested.connect(self._emit_remove)
        self.actions.add_requested.connect(self._emit_add)
        self.actions.term_requested.connect(self._emit_term)
        self.flagged_view = SpanTextView(body)
        self.flagged_view.setObjectName("flaggedText")
        self.flagged_view.setAccessibleName("flagged record, anonymized")
        self.reasons = wrapped_label("", body, "flaggedReasons")
        right = QVBoxLayout()
        right.addWidget(self.reasons)
        right.addWidget(self.flagged_view, 1)
        row = QHBoxLayout()
        row.addWidget(self.flagged, 1)
        row.addLayout(right, 2)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.reason_filter)
        layout.addLayout(top)
        layout.addLayout(row, 1)
        layout.addWidget(self.actions)  # under both: the pane beside the list is narrow
        body.setMinimumHeight(PANE_HEIGHT)
        body.hide()
        return body

    # -- content ---------------------------------------------------------------------------

    def show_overview(self, overview: AnonymizeOverview | None, last_run: str = "") -> None:
        """The counts; ``last_run`` is a sentence about the latest run, if any."""
        if overview is None or overview.records_anonymized == 0:
            none = overview is not None and overview.records_total == 0
            text = "Import data first: there are no records." if none else "Nothing anonymized yet."
            self.overview.setText(" ".join(part for part in (text, last_run) if part))
            self.counts.setRowCount(0)
            fit_height(self.counts)
            return
        self.overview.setText(
            f"{overview.records_anonymized:,} of {overview.records_total:,} records anonymized; "
            f"{overview.needs_review:,} need review. {last_run}".strip()
        )
        self.counts.setRowCount(len(overview.entity_counts))
        for row, (entity, count) in enumerate(overview.entity_counts.items()):
            name = QTableWidgetItem(entity_swatch(entity), entity)
            name.setToolTip(ENTITY_DESCRIPTIONS.get(entity, entity))
            value = QTableWidgetItem(f"{count:,}")
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.counts.setItem(row, 0, name)
            self.counts.setItem(row, 1, value)
        fit_height(self.counts, most_rows=5)  # as tall as its rows; more scroll

    def show_preview(self, items: Sequence[ReviewItem]) -> None:
        self.preview.show_records(items)
        self.legend.set_entities(self.preview.entities_shown(), records_shown=bool(items))
        self.next_button.setEnabled(bool(items))

    def show_flagged(
        self,
        items: Sequence[ReviewItem],
        more: bool = False,
        *,
        ran: bool = True,
        reasons: dict[str, int] | None = None,
    ) -> None:
        """The flagged records (``more``: there are others beyond these; ``ran``: whether
        anything was anonymized yet; ``reasons``: records per reason, for the filter)."""
        self._flagged = list(items)
        self.reason_filter.set_reasons(reasons or {})
        filtered = bool(self.reason_filter.reason())
        self.nothing_flagged.setText(
            NOT_RUN if not ran else "No record needs review." if not filtered
            else "No record left with this reason."
        )  # fmt: skip
        self.flagged.clear()
        for item in self._flagged:
            reasons = ", ".join(reason.replace("_", " ") for reason in item.reasons)
            QListWidgetItem(f"Record #{item.record_id}: {reasons}", self.flagged)
        if more:
            extra = QListWidgetItem("… more: fix these first", self.flagged)
            extra.setFlags(Qt.ItemFlag.NoItemFlags)
        self.flagged_view.clear()
        self.reasons.clear()
        self.review_body.setVisible(bool(self._flagged) or filtered)
        self.nothing_flagged.setVisible(not self._flagged)
        if self._flagged:
            self.flagged.setCurrentRow(0)

    def _show_flagged(self, row: int) -> None:
        if not 0 <= row < len(self._flagged):
            return
        item = self._flagged[row]
        self.flagged_view.show_records([item], headers=False)
        self.reasons.setText(" ".join(review_reason_text(reason) for reason in item.reasons))

    def current_item(self) -> ReviewItem | None:
        """The flagged record shown beside the list."""
        row = self.flagged.currentRow()
        return self._flagged[row] if 0 <= row < len(self._flagged) else None

    def _emit_reviewed(self) -> None:
        item = self.current_item()
        if item is not None:
            self.reviewed.emit(item.record_id)

    def _emit_remove(self) -> None:
        item = self.current_item()
        if item is None:
            return
        where = self.flagged_view.textCursor()
        start, end = sorted((where.selectionStart(), where.selectionEnd()))
        for index, span in enumerate(item.spans):
            if span["start"] <= start <= span["end"] and (end == start or end <= span["end"]):
                self.remove_requested.emit(item.record_id, index)
                return
        self.remove_requested.emit(item.record_id, -1)

    def _emit_add(self, entity: str) -> None:
        item = self.current_item()
        if item is not None:
            where = self.flagged_view.textCursor()
            self.add_requested.emit(
                item.record_id, where.selectionStart(), where.selectionEnd(), entity
            )

    def _emit_term(self, allow: bool, entity: str) -> None:
        self.term_requested.emit(self.flagged_view.textCursor().selectedText(), allow, entity)
