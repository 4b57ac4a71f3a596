"""The Data page: pick (or drop) a file, look at its head, choose columns and split, import.

The preview reads the first rows only (``core.data.preview``), so a big file opens at once;
the import itself runs in the worker process (``import`` stage) and either imports the
whole file or nothing. What was imported is read back from the store
(``core.data.summary``) and shown as counts, a label histogram and the edge-case set.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.data.columns import require_columns
from core.data.importer import ImportConfig, ImportResult
from core.data.preview import Preview, preview
from core.data.split import validate_fractions
from core.data.summary import DatasetSummary, dataset_summaries
from core.jobs.registry import IMPORT
from desktop.pages.base import StagePage
from desktop.widgets.column_pickers import ColumnPickers
from desktop.widgets.empty_placeholder import EmptyPlaceholder
from desktop.widgets.form_fields import primary_button, wrapped_label
from desktop.widgets.import_summary import ImportSummaryView
from desktop.widgets.preview_model import MAX_ROWS, PAGE_ROWS, PreviewTableModel, Rows
from desktop.widgets.scroll_body import scroll_around
from desktop.widgets.split_sliders import SplitSliders

FILE_FILTER = (
    "Data files (*.csv *.tsv *.tab *.txt *.jsonl *.ndjson *.json *.parquet *.pq *.xlsx *.xlsm "
    "*.gz *.bz2);;All files (*)"
)
ENCODINGS = (
    ("Detect automatically", None),
    ("UTF-8", "utf-8"),
    ("UTF-8 with BOM", "utf-8-sig"),
    ("Windows-1252 (Western)", "cp1252"),
    ("Latin-1 (ISO-8859-1)", "latin-1"),
    ("UTF-16", "utf-16"),
)


class DataPage(StagePage):
    """Import one data file into the open project and show what every import did."""

    stage = IMPORT

    def build(self) -> None:
        self._path: Path | None = None
        self._preview: Preview | None = None
        self._summaries: list[DatasetSummary] = []
        self._summaries_for: Path | None = None
        self.setAcceptDrops(True)
        content = QWidget(self)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_source(content))
        row = QHBoxLayout()
        self.columns = ColumnPickers(content)
        self.columns.roles_changed.connect(self._roles_changed)
        # Direct handles on the pickers, for the enable logic and tests.
        self.text_column = self.columns.text_column
        self.label_column = self.columns.label_column
        self.flag_column = self.columns.flag_column
        self.dataset_name = self.columns.dataset_name
        self.max_chars = self.columns.max_chars
        self.skip_oversize = self.columns.skip_oversize
        row.addWidget(self.columns, 1)
        row.addWidget(self._build_split(content), 1)
        layout.addLayout(row)
        self.import_button = primary_button(
            "&Import",
            "Read the whole file into the project, drop empty rows and exact duplicates, set "
            "the edge cases aside and split the rest. Nothing is written if anything is wrong.",
            content,
        )
        self.import_button.clicked.connect(self.start_import)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        layout.addLayout(buttons)
        imported = QGroupBox("Imported data", content)
        self.summary = ImportSummaryView(imported)
        QVBoxLayout(imported).addWidget(self.summary)
        layout.addWidget(imported, 1)
        scroll_around(self, self.body_layout, content)
        self._update_enabled()

    def _build_source(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("File", parent)
        self.choose_button = QPushButton("Choose &file…", box)
        self.choose_button.setToolTip(
            "Pick a CSV, TSV, JSON Lines, Parquet or Excel file (also .gz or .bz2 compressed). "
            "You can also drop a file anywhere on this page."
        )
        self.choose_button.clicked.connect(self.choose_file)
        self.path_edit = QLineEdit(box)
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("No file chosen: choose one, or drop it on this page")
        self.path_edit.setToolTip("The file to import. It is read, never changed.")
        self.path_edit.setAccessibleName("data file path")
        self.encoding = QComboBox(box)
        for title, name in ENCODINGS:
            self.encoding.addItem(title, name)
        self.encoding.setToolTip(
            "How the file's characters are stored. Detection checks for UTF-8, UTF-16, "
            "Windows-1252 and Latin-1; choose one only if accented letters look wrong below."
        )
        self.encoding.currentIndexChanged.connect(self._reload_preview)
        self.sheet = QLineEdit(box)
        self.sheet.setPlaceholderText("first sheet")
        self.sheet.setToolTip("For Excel workbooks: the sheet to read (default: the first).")
        self.sheet.editingFinished.connect(self._reload_preview)
        self.file_info = wrapped_label("", box, "fileInfo")
        self.file_info.hide()  # shown with a file: an empty line would leave a gap
        self.model = PreviewTableModel(self)
        self.preview_view = QTableView(box)
        self.preview_view.setObjectName("previewTable")
        self.preview_view.setModel(self.model)
        self.preview_view.setTabKeyNavigation(False)
        self.preview_view.setMinimumHeight(180)
        self.preview_view.setToolTip("The first rows of the file, as they will be read.")
        self.preview_view.setAccessibleName("file preview")
        header = self.preview_view.horizontalHeader()
        header.setMaximumSectionSize(420)
        header.setStretchLastSection(True)
        self.preview_placeholder = EmptyPlaceholder(
            self.preview_view,
            "Choose or drop a CSV, JSONL, Parquet or Excel file to preview it.",
            empty_height=64,
        )
        top = QHBoxLayout()
        top.addWidget(self.choose_button)
        top.addWidget(self.path_edit, 1)
        options = QHBoxLayout()
        for text, widget in (("E&ncoding:", self.encoding), ("S&heet:", self.sheet)):
            label = QLabel(text, box)
            label.setBuddy(widget)
            label.setToolTip(widget.toolTip())
            options.addWidget(label)
            options.addWidget(widget)
        options.addStretch(1)
        preview_label = QLabel("&Preview", box)
        preview_label.setBuddy(self.preview_view)
        layout = QVBoxLayout(box)
        layout.addLayout(top)
        layout.addLayout(options)
        layout.addWidget(self.file_info)
        layout.addWidget(preview_label)
        layout.addWidget(self.preview_view, 1)
        return box

    def _build_split(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Split", parent)
        self.split = SplitSliders(box)
        note = wrapped_label(
            "Edge cases are set aside first; the rest is split with these shares, each label "
            "separately when there is a label column.",
            box,
        )
        layout = QVBoxLayout(box)
        layout.addWidget(self.split)
        layout.addWidget(note)
        layout.addStretch(1)
        return box

    # -- choosing a file -------------------------------------------------------------------

    def choose_file(self) -> None:
        start = str(self._path.parent) if self._path is not None else str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose a data file", start, FILE_FILTER)
        if chosen:
            self.load_file(Path(chosen))

    def load_file(self, path: Path) -> None:
        """Show the head of ``path``; a file that cannot be read is explained in the banner."""
        self.banner.clear()
        self._path = Path(path)
        self.path_edit.setText(str(self._path))
        self.dataset_name.setPlaceholderText(self._path.name.split(".")[0])
        self._reload_preview()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not self.busy() and _dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_file(event.mimeData())
        if path is None or self.busy():
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_file(path)

    def _reload_preview(self) -> None:
        if self._path is None:
            return
        self.banner.clear()
        shown = self.run_guarded(
            preview,
            self._path,
            encoding=self.encoding.currentData(),
            sheet=self.sheet.text().strip() or None,
            rows=PAGE_ROWS,
        )
        self._preview = shown
        if shown is None:
            self.model.clear()
            self._fill_pickers(())
        else:
            self.model.set_preview(shown.columns, shown.rows, self._more_rows)
            self.preview_view.resizeColumnsToContents()
            self._fill_pickers(shown.columns)
        chosen = self.encoding.currentData() is not None
        info = "" if shown is None else _describe(shown, chosen=chosen)
        self.file_info.setText(info)
        self.file_info.setVisible(bool(info))
        self._update_enabled()

    def _more_rows(self, count: int) -> Rows | None:
        if self._preview is None:
            return None
        shown = self.run_guarded(
            preview,
            self._preview.path,
            encoding=self._preview.encoding,
            sheet=self.sheet.text().strip() or None,
            rows=count,
        )
        return None if shown is None else shown.rows

    def _fill_pickers(self, columns: tuple[str, ...]) -> None:
        self.columns.fill(columns, self._preview.rows if self._preview is not None else ())

    def _roles_changed(self) -> None:
        self.model.set_roles(self.columns.roles())

    # -- importing -------------------------------------------------------------------------

    def start_import(self) -> None:
        """Start the ``import`` stage for the chosen file, columns and split."""
        config = self.run_guarded(self._import_config)
        if config is None:
            return
        worker = self.start_stage(IMPORT, config)
        worker.finished.connect(self._update_enabled)
        self._update_enabled()

    def _import_config(self) -> ImportConfig:
        """The stage config; core's own checks first, so a mistake shows before any run."""
        assert self._preview is not None
        roles = self.columns.roles()
        require_columns(self._preview.columns, roles, self._preview.path.name)
        return ImportConfig(
            source=self._preview.path,
            text_column=roles["text"] or "",
            label_column=roles["label"],
            flag_column=roles["flag"],
            split=validate_fractions(self.split.fractions()),
            seed=self.split.seed.value(),
            encoding=self.encoding.currentData(),
            sheet=self.sheet.text().strip() or None,
            max_chars=self.max_chars.value(),
            skip_oversize=self.skip_oversize.isChecked(),
            name=self.dataset_name.text().strip() or None,
        )

    def on_stage_succeeded(self, stage: str, result: ImportResult) -> None:
        dropped = result.duplicates_dropped + result.empty_dropped
        imported = (
            f"Imported {result.rows_imported:,} records as dataset "
            f"#{result.dataset_id} {result.name!r}"
        )
        if result.warnings:  # a verdict on too little data would not be worth much
            self.banner.show_warning(
                f"{imported}, but there is too little data for a trustworthy evaluation: "
                + "; ".join(result.warnings),
                "import more labelled data before training, or expect wide intervals",
            )
        else:
            self.banner.show_info(
                imported,
                f"{dropped:,} rows were dropped as duplicates or empty; the counts are below",
            )
        self._path, self._preview = None, None
        self.path_edit.clear()
        self.model.clear()
        self.file_info.clear()
        self.file_info.hide()
        self._fill_pickers(())

    # -- the store -------------------------------------------------------------------------

    def refresh(self) -> None:
        read = self.run_guarded(self._read_store) if self.context.has_project() else None
        summaries, task, used = read if read is not None else ([], "classification", None)
        self.columns.set_generation(task == "generation")
        if used is not None and getattr(self, "_split_shown_for", None) != self.context.project_dir:
            # The split and seed the data was imported with, not the form's defaults.
            self._split_shown_for = self.context.project_dir
            self.split.set_percents(*(round(100 * share) for share in used.split))
            self.split.seed.setValue(used.seed)
        self._summaries = summaries
        self.summary.set_summaries(summaries)
        self._update_enabled()

    def _read_store(self) -> tuple[list[DatasetSummary], str, ImportConfig | None]:
        from core.jobs.registry import IMPORT
        from core.jobs.runs import latest, run_config

        with self.context.project() as project:
            # Summaries are reused only within one project (see dataset_summaries).
            same = self._summaries_for == project.path
            self._summaries_for = project.path
            earlier = self._summaries if same else []
            found = latest(project, IMPORT)
            used = None if found is None else run_config(project, IMPORT, found.run)
            return dataset_summaries(project, earlier), project.settings.task, used

    def _update_enabled(self) -> None:
        idle = self.context.has_project() and not self.busy()
        for widget in (self.choose_button, self.encoding, self.sheet, self.split):
            widget.setEnabled(idle)
        ready = idle and self._preview is not None and bool(self._preview.columns)
        self.columns.setEnabled(ready)
        self.import_button.setEnabled(ready)
        self.setAcceptDrops(idle)


def _dropped_file(mime: QMimeData) -> Path | None:
    """The one local file a drag carries, or None (several files, a folder, a web link)."""
    urls = mime.urls() if mime.hasUrls() else []
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    path = Path(urls[0].toLocalFile())
    return path if path.is_file() else None


def _describe(shown: Preview, *, chosen: bool) -> str:
    fmt = {"csv": "CSV", "tsv": "TSV", "jsonl": "JSON Lines", "parquet": "Parquet"}.get(
        shown.format, "Excel workbook"
    )
    how = "as chosen" if chosen else "detected from the start of the file"
    encoding = f"encoding {shown.encoding} ({how})" if shown.encoding else "no text encoding"
    return (
        f"Format: {fmt} · {encoding} · {len(shown.columns)} columns · "
        f"showing the first rows only (up to {MAX_ROWS:,} as you scroll)"
    )
