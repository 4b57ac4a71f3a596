"""The Anonymize page: choose entity types and operators, run the stage, check the result.

The run happens in the worker process (``anonymize`` stage); the page shows what the store
holds afterwards: counts per entity type, a few records with their replaced spans
highlighted, and the records flagged for review. Only anonymized text is ever read here
(``core.anonymize.review``), so no original value can reach a widget.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.anonymize.config import PATTERN_ONLY_WARNING, AnonymizeConfig, AnonymizeResult
from core.anonymize.review import (
    AnonymizeOverview,
    ReviewItem,
    anonymize_overview,
    anonymized_records,
)
from core.anonymize.review_actions import (
    add_replacement,
    add_to_rules,
    mark_reviewed,
    pending_reasons,
    remove_replacement,
    review_queue,
)
from core.errors import AnonymizeError
from core.jobs.registry import ANONYMIZE
from core.jobs.runs import list_runs, run_config
from desktop.pages.base import StagePage
from desktop.widgets.anonymize_results import AnonymizeResultsView
from desktop.widgets.entity_picker import EntityPicker
from desktop.widgets.form_fields import primary_button, wrapped_label
from desktop.widgets.scroll_body import scroll_around

PREVIEW_RECORDS = 4
FLAGGED_SHOWN = 200
PATTERN_ONLY_TEXT = (
    f"⚠ {PATTERN_ONLY_WARNING.upper()}. People's names, towns, organisations and "
    "nationalities stay in the text exactly as written. Use it only where the data cannot "
    "hold them, or to try settings quickly."
)
_LastRun = tuple[str, AnonymizeConfig]  # the latest run's status and settings
_Queue = tuple[list[ReviewItem], dict[str, int]]  # flagged records, pending ones per reason
_WARNING_STYLE = (
    "background: #fdecea; color: #8a1c1c; border: 1px solid #e0a0a0; border-radius: 4px; "
    "padding: 8px; font-weight: 600;"
)


class AnonymizePage(StagePage):
    """Anonymize every record of the open project and review what was replaced."""

    stage = ANONYMIZE

    def build(self) -> None:
        self._loaded_for: Path | None = None
        self._preview_after = 0
        self._shown_ids: list[int] = []
        self._records_total = 0
        self._overview: AnonymizeOverview | None = None
        self.batch_size = AnonymizeConfig().batch_size
        content = QWidget(self)
        columns = QHBoxLayout(content)
        columns.setContentsMargins(0, 0, 0, 0)
        settings = QVBoxLayout()
        # Built in screen order, which is also the keyboard's tab order: the short settings
        # and the run button first, then the long list of entity types.
        settings.addWidget(self._build_mode(content))
        settings.addWidget(self._build_options(content))
        settings.addLayout(self._build_run_row(content))
        entities = QGroupBox("Entity types and operators", content)
        self.picker = EntityPicker(entities)
        self.picker.changed.connect(self._settings_changed)
        QVBoxLayout(entities).addWidget(self.picker)
        settings.addWidget(entities)
        settings.addStretch(1)
        self.results = AnonymizeResultsView(content)
        self.results.next_requested.connect(self.show_next_records)
        self._connect_review()
        columns.addLayout(settings, 1)
        # At its natural height: stretched to the entity list's, its panes would be huge.
        columns.addWidget(self.results, 1, Qt.AlignmentFlag.AlignTop)
        scroll_around(self, self.body_layout, content)
        self._update_enabled()

    def _build_run_row(self, parent: QWidget) -> QHBoxLayout:
        self.run_button = primary_button(
            "&Run anonymization",
            "Anonymize every record with these settings and the entity types below. Records "
            "already done with the same settings are skipped, so after a stop it continues "
            "where it was.",
            parent,
        )
        self.run_button.clicked.connect(self.start_anonymize)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addStretch(1)
        return row

    def _build_mode(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Detection", parent)
        self.full_mode = QRadioButton("Full &detection: language model and patterns", box)
        self.full_mode.setToolTip(
            "The shipped spaCy model finds names, places and organisations; patterns and "
            "checksums find numbers, codes and addresses. Recommended."
        )
        self.pattern_mode = QRadioButton("&Pattern-only: no language model", box)
        self.pattern_mode.setToolTip(
            "Faster and needs no model, but names and places are NOT detected."
        )
        group = QButtonGroup(box)
        group.addButton(self.full_mode)
        group.addButton(self.pattern_mode)
        self.full_mode.setChecked(True)
        self.pattern_mode.toggled.connect(self._mode_changed)
        self.pattern_warning = wrapped_label(PATTERN_ONLY_TEXT, box, "patternOnlyWarning")
        self.pattern_warning.setStyleSheet(_WARNING_STYLE)
        self.pattern_warning.setAccessibleName("warning: names and places are not detected")
        self.pattern_warning.hide()
        layout = QVBoxLayout(box)
        layout.addWidget(self.full_mode)
        layout.addWidget(self.pattern_mode)
        layout.addWidget(self.pattern_warning)
        return box

    def _build_options(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Options", parent)
        self.safe_harbor = QCheckBox("&Generalise dates, ages and ZIP codes (Safe Harbor)", box)
        self.safe_harbor.setChecked(True)
        self.safe_harbor.setToolTip(
            "Dates keep their year, ages up to 89 stay and older ones become 90+, ZIP codes "
            "keep their first three digits, as HIPAA Safe Harbor allows. Untick to replace "
            "them whole."
        )
        self.threshold = QDoubleSpinBox(box)
        self.review_threshold = QDoubleSpinBox(box)
        defaults = AnonymizeConfig()
        for spin, low, value in (
            (self.threshold, 0.05, defaults.score_threshold),
            (self.review_threshold, 0.0, defaults.review_threshold),
        ):
            spin.setRange(low, 1.0)
            spin.setSingleStep(0.05)
            spin.setDecimals(2)
            spin.setValue(value)
            spin.valueChanged.connect(self._settings_changed)
        self.threshold.setToolTip(
            "The lowest detector confidence that is replaced. Lower finds more and also "
            "replaces more ordinary words."
        )
        self.review_threshold.setToolTip(
            "A record with a replaced span below this confidence is flagged for review."
        )
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow(self.safe_harbor)
        for text, spin in (
            ("Detection &threshold:", self.threshold),
            ("Re&view threshold:", self.review_threshold),
        ):
            label = QLabel(text, box)
            label.setBuddy(spin)
            label.setToolTip(spin.toolTip())
            form.addRow(label, spin)
        return box

    # -- settings --------------------------------------------------------------------------

    def _mode_changed(self, pattern_only: bool) -> None:
        self.picker.set_pattern_only(pattern_only)
        self.pattern_warning.setVisible(pattern_only)
        self._settings_changed()

    def _settings_changed(self) -> None:
        if self.banner.level() == "error" and not self.busy():
            self.banner.clear()

    def config(self) -> AnonymizeConfig:
        """The stage config the controls describe.

        Raises:
            AnonymizeError: nothing to look for, or an invalid value.
        """
        config = AnonymizeConfig(
            entities=self.picker.entities(),
            operator=self.picker.operator(),
            operators=self.picker.overrides(),
            pattern_only=self.pattern_mode.isChecked(),
            safe_harbor=self.safe_harbor.isChecked(),
            score_threshold=round(self.threshold.value(), 2),
            review_threshold=round(self.review_threshold.value(), 2),
            batch_size=self.batch_size,
        )
        if not config.entities or not config.resolved_entities():
            raise AnonymizeError(
                "no entity type is ticked that this mode can find",
                "tick at least one, or press 'Safe Harbor set'",
            )
        config.validate()
        return config

    def _apply_run_config(self, config: AnonymizeConfig) -> None:
        self.picker.apply_config(config)
        (self.pattern_mode if config.pattern_only else self.full_mode).setChecked(True)
        self.safe_harbor.setChecked(config.safe_harbor)
        self.threshold.setValue(config.score_threshold)
        self.review_threshold.setValue(config.review_threshold)

    # -- running ---------------------------------------------------------------------------

    def start_anonymize(self) -> None:
        """Start the ``anonymize`` stage with the chosen settings."""
        config = self.run_guarded(self.config)
        if config is None:
            return
        worker = self.start_stage(ANONYMIZE, config)
        worker.finished.connect(self._update_enabled)
        self._update_enabled()
        if config.pattern_only and worker.is_running():
            self.banner.show_warning(PATTERN_ONLY_WARNING, "the run continues below")

    def on_stage_succeeded(self, stage: str, result: AnonymizeResult) -> None:
        text = f"Anonymized {result.anonymized:,} records ({result.skipped:,} were done already)"
        hint = f"{result.needs_review:,} records need review: see the list below"
        if result.warning:
            self.banner.show_warning(f"{text}. {result.warning}", hint)
        else:
            self.banner.show_info(text, hint)

    # -- the store -------------------------------------------------------------------------

    def refresh(self) -> None:
        read = self.run_guarded(self._read_store) if self.context.has_project() else None
        if read is None:
            self._records_total = 0
            self.results.show_overview(None)
            self.results.show_preview([])
            self.results.show_flagged([], ran=False)
            self._update_enabled()
            return
        overview, preview, (flagged, reasons), last = read
        self._overview = overview
        if self._loaded_for != self.context.project_dir:
            self._loaded_for = self.context.project_dir
            if last is not None and not self.busy():
                self._apply_run_config(last[1])
        self._records_total = overview.records_total
        self.results.show_overview(overview, _describe_run(last))
        self._show_preview(preview)
        self.results.show_flagged(
            flagged[:FLAGGED_SHOWN],
            more=len(flagged) > FLAGGED_SHOWN,
            ran=overview.records_anonymized > 0,
            reasons=reasons,
        )
        self._update_enabled()

    def _read_store(
        self,
    ) -> tuple[AnonymizeOverview, list[ReviewItem], _Queue, _LastRun | None]:
        with self.context.project() as project:
            same_project = self._loaded_for == self.context.project_dir
            earlier = self._overview if same_project else None
            self._preview_after = self._preview_after if same_project else 0
            overview = anonymize_overview(project, earlier)
            preview = anonymized_records(project, PREVIEW_RECORDS, after_id=self._preview_after)
            if not preview and self._preview_after:
                self._preview_after = 0
                preview = anonymized_records(project, PREVIEW_RECORDS)
            reason = self.results.reason_filter.reason() or None
            flagged = review_queue(project, FLAGGED_SHOWN + 1, reason=reason)
            reasons = pending_reasons(project)
            runs = list_runs(project, ANONYMIZE.key)
            last = (runs[-1].status, run_config(project, ANONYMIZE, runs[-1])) if runs else None
        return overview, preview, (flagged, reasons), last

    # -- the review queue ------------------------------------------------------------------

    def _connect_review(self) -> None:
        self.results.reason_changed.connect(lambda _: self.refresh())
        self.results.reviewed.connect(
            lambda record: self._review(mark_reviewed, record, done=f"Record #{record} reviewed.")
        )
        self.results.remove_requested.connect(self._remove_replacement)
        self.results.add_requested.connect(self._add_replacement)
        self.results.term_requested.connect(self._add_term)

    def _review(self, action: Callable[..., object], *args: object, done: str) -> None:
        def call() -> bool:
            with self.context.project() as project:
                action(project, *args)
            return True

        if self.run_guarded(call):
            self.banner.show_info(done, "The change is in the audit log.")
            self.context.stages_changed.emit()  # refreshes this page and the sidebar

    def _remove_replacement(self, record: int, index: int) -> None:
        if index < 0:
            self.banner.show_warning(
                "Put the cursor in a highlighted replacement first.",
                "Click the replacement that is not an identifier, then Undo replacement.",
            )
            return
        self._review(remove_replacement, record, index,
                     done=f"Record #{record}: the replacement was undone and the record "
                     "anonymized again.")  # fmt: skip

    def _add_replacement(self, record: int, start: int, end: int, entity: str) -> None:
        self._review(add_replacement, record, start, end, entity,
                     done=f"Record #{record}: the selection is replaced as {entity} and the "
                     "record anonymized again.")  # fmt: skip

    def _add_term(self, term: str, allow: bool, entity: str) -> None:
        which = "allow-list (never replaced)" if allow else f"deny-list of {entity}"
        self._review(lambda project: add_to_rules(project, term, allow=allow, entity=entity or
                                                  "PERSON"),
                     done=f"Added to the project's {which}. Run anonymization again to apply "
                     "it to every record.")  # fmt: skip

    def show_next_records(self) -> None:
        """Show the next few anonymized records (from the first again after the last)."""
        if not self._shown_ids or not self.context.has_project():
            return
        self._preview_after = self._shown_ids[-1]
        items = self.run_guarded(self._read_preview)
        if items is not None:
            self._show_preview(items)

    def _read_preview(self) -> list[ReviewItem]:
        with self.context.project() as project:
            items = anonymized_records(project, PREVIEW_RECORDS, after_id=self._preview_after)
            if not items:
                self._preview_after = 0
                items = anonymized_records(project, PREVIEW_RECORDS)
        return items

    def _show_preview(self, items: list[ReviewItem]) -> None:
        self._shown_ids = [item.record_id for item in items]
        self.results.show_preview(items)

    def _update_enabled(self) -> None:
        idle = self.context.has_project() and not self.busy()
        for widget in (self.full_mode, self.pattern_mode, self.picker, self.safe_harbor):
            widget.setEnabled(idle)
        self.threshold.setEnabled(idle)
        self.review_threshold.setEnabled(idle)
        self.run_button.setEnabled(idle and self._records_total > 0)


def _describe_run(last: _LastRun | None) -> str:
    """One sentence about the latest anonymize run, for the overview line."""
    if last is None:
        return ""
    status, config = last
    mode = (
        "pattern-only: names and places NOT detected" if config.pattern_only else "full detection"
    )
    states = {
        "succeeded": "finished",
        "cancelled": "was stopped; run again to continue where it stopped",
        "interrupted": "was interrupted; run again to continue where it stopped",
        "failed": "failed",
        "running": "is running",
        "pending": "is starting",
    }
    return f"The last run ({mode}) {states.get(status, status)}."
