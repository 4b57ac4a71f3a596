"""The Teacher page: choose who labels the records, check it, try the prompt, run it.

The teach stage runs in the worker process (``start_stage(TEACH, ...)``); its per-batch
metrics feed the live line (records/s, cost so far, failures). The endpoint check and the
5-record dry run are core calls on a background thread: they may wait on the network or load
a model, and the window must not freeze meanwhile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from core.errors import UserError
from core.jobs.registry import TEACH
from core.teacher.config import TeachConfig, TeachResult
from desktop.pages.base import StagePage
from desktop.widgets.background_call import BackgroundCall, settle_heavy_imports
from desktop.widgets.form_fields import primary_button, wrapped_label
from desktop.widgets.prompt_editor import DryRunTable, PromptEditor
from desktop.widgets.scroll_body import scrolling_body
from desktop.widgets.teacher_quality import TeacherQuality
from desktop.widgets.teacher_source_form import ENDPOINT, LOCAL, TeacherSourceForm
from desktop.workers.stage_worker import StageWorker

_INTRO = (
    "The teacher answers every anonymized record; the student then learns to imitate those "
    "answers. The teacher never sees the original text. Three ways: the human labels (the "
    "student is then simply fine-tuned on them), a model on this computer (pick one below, "
    "or fine-tune one from your labels first), or a server on your network (test it first)."
)


def find_teacher_models() -> list[Any]:
    """The local model catalogue (a background thread: it reads weight-file headers)."""
    from core.train.catalogue import catalogue, default_roots

    entries = catalogue(default_roots())
    settle_heavy_imports()
    return entries


def dry_run(project_dir: Path, config: TeachConfig) -> list[Any]:
    """The core's preview (5 records, nothing stored), on its own project handle: this runs
    on a background thread, and a store connection belongs to the thread that opened it."""
    from core.project import Project
    from core.teacher.preview import preview_teach

    with Project.open(project_dir) as project:
        rows = preview_teach(project, config)
    settle_heavy_imports(collect=True)  # the teacher model is garbage by now
    return rows


def check_endpoint_call(config: TeachConfig) -> Any:
    """The endpoint pre-flight with a short timeout (runs on a background thread)."""
    from core.teacher.endpoint_check import check_endpoint

    return check_endpoint(config)


class TeacherPage(StagePage):
    stage = TEACH

    def build(self) -> None:
        self._scroll, body = scrolling_body(self, self.body_layout)
        intro = wrapped_label(_INTRO, self)
        body.addWidget(intro)
        body.addWidget(self._build_source())
        body.addWidget(self._build_prompt())
        body.addLayout(self._build_run_row())
        body.addWidget(self._build_results())
        body.addStretch(1)
        self._labels: tuple[str, ...] = ()
        self._shown_project: object = None
        self._call: BackgroundCall | None = None
        self._models_call: BackgroundCall | None = None
        self._model_entries: list[Any] = []
        self._finetuning = False
        self._live: dict[str, float] = {}
        self._on_source_changed(self.source.source())

    def _build_source(self) -> QGroupBox:
        box = QGroupBox("Who answers", self)
        self.source = TeacherSourceForm(box)
        self.source.test_button.clicked.connect(self.test_endpoint)
        self.source.source_changed.connect(self._on_source_changed)
        self.source.finetune_button.clicked.connect(self.finetune_teacher)
        QVBoxLayout(box).addWidget(self.source)
        return box

    def _build_prompt(self) -> QGroupBox:
        self.prompt_box = QGroupBox("Prompt (model teachers)", self)
        self.prompt = PromptEditor(self.prompt_box)
        self.dry_run_button = QPushButton("Dry run on 5 records", self.prompt_box)
        self.dry_run_button.setToolTip(
            "Ask the teacher about the first 5 anonymized records and show its answers; "
            "nothing is stored or billed to the project"
        )
        self.dry_run_button.clicked.connect(self.start_dry_run)
        self.dry_run_table = DryRunTable(self.prompt_box)
        layout = QVBoxLayout(self.prompt_box)
        for widget in (self.prompt, self.dry_run_button, self.dry_run_table):
            layout.addWidget(widget)
        layout.setAlignment(self.dry_run_button, Qt.AlignmentFlag.AlignLeft)
        return self.prompt_box

    def _build_run_row(self) -> QHBoxLayout:
        self.start_button = primary_button(
            "Label all records",
            "Ask the teacher about every anonymized record. Answers already stored are kept, "
            "so a stopped run continues where it stopped and nothing is paid for twice.",
            self,
        )
        self.start_button.clicked.connect(self.start_teaching)
        self.live = QLabel(self)
        self.live.setObjectName("teachLive")
        self.live.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.live, 1)
        return row

    def _build_results(self) -> QGroupBox:
        self.quality = TeacherQuality(self)
        # The box's parts, as the page's own (tests and screen readers find them here).
        self.accuracy_table = self.quality.accuracy_table
        self.summary = self.quality.summary
        self.held_out_note = self.quality.held_out_note
        return self.quality

    # -- reading the store -----------------------------------------------------------------

    def refresh(self) -> None:
        if self.context.project_dir is None:
            self.start_button.setEnabled(False)
            self._show_result(None)
            return
        loaded = self.run_guarded(self._load)
        if loaded is None:
            return
        self._labels, builtin, last_config, last_result = loaded
        self.prompt.set_builtin(builtin)
        if self._shown_project != self.context.project_dir:
            self._shown_project = self.context.project_dir
            if last_config is not None:
                self._restore(last_config)
        self.start_button.setEnabled(not self.busy())
        self._show_result(last_result)
        self._look_up_models()

    def _look_up_models(self) -> None:
        """Once per page, on a background thread: the local models; then, each refresh,
        the list with the teachers fine-tuned in this project."""
        if self._models_call is None:
            self._models_call = BackgroundCall(find_teacher_models, parent=self)
            self._models_call.succeeded.connect(self._on_models)
            self._models_call.start()
        elif not self._models_call.is_running():
            self._on_models(self._model_entries)

    def _on_models(self, entries: list[Any]) -> None:
        from core.teacher.guide import local_teachers

        self._model_entries = entries
        if self.context.project_dir is None:
            return
        with self.context.project() as project:
            choices = local_teachers(project, entries)
        self.source.set_choices(choices)

    def models_found(self, msecs: int) -> bool:
        """Wait for the model look-up (tests)."""
        return self._models_call is None or self._models_call.wait(msecs)

    def finetune_teacher(self) -> None:
        """Fine-tune MiniLM-L6 on the human labels (the demo's teacher): first the human
        labels as the teacher's answers, if not stored yet, then a cross-entropy-only train
        run. It then becomes the chosen local model."""
        from core.demo_steps import minilm_folder
        from core.jobs.registry import TRAIN
        from core.jobs.runs import latest_result
        from core.teacher.guide import finetune_config
        from core.teacher.labels_teacher import TEACHER_ID
        from core.teacher.sources import LABELS_SPEC

        def labelled() -> bool:
            with self.context.project() as project:
                found = latest_result(project, TEACH, where=lambda r: r.teacher_id == TEACHER_ID)
            return found is not None

        done = self.run_guarded(labelled)
        if done is None:
            return
        self._finetuning = True
        if not done:
            self.start_stage(TEACH, TeachConfig(teacher=LABELS_SPEC.spec()))
            return
        student = self.run_guarded(minilm_folder)
        if student is not None:
            self.start_stage(TRAIN, finetune_config(student, TEACHER_ID))

    def _load(self) -> tuple[tuple[str, ...], str, TeachConfig | None, TeachResult | None]:
        from core.jobs.runs import latest_result, list_runs, run_config
        from core.teacher.prompt_files import builtin_template

        with self.context.project() as project:
            settings = project.settings
            teach_runs = list_runs(project, TEACH.key)
            last_config = run_config(project, TEACH, teach_runs[-1]) if teach_runs else None
            result = latest_result(project, TEACH)
        return settings.labels, builtin_template(settings.task), last_config, result

    def _restore(self, config: TeachConfig) -> None:
        self.source.set_values(config)
        if config.prompt_file is not None and config.prompt_file.is_file():
            self.prompt.set_text(config.prompt_file.read_text(encoding="utf-8").rstrip("\n"))

    def _show_result(self, result: TeachResult | None) -> None:
        self.quality.show_result(result)

    # -- the config ------------------------------------------------------------------------

    def _config(self) -> TeachConfig:
        """The TeachConfig of the form; an edited prompt is saved to the project first."""
        from core.teacher.prompt_files import write_prompt_file

        values = self.source.values()
        prompt_file = None
        if self.source.needs_prompt():
            with self.context.project() as project:
                prompt_file = write_prompt_file(project, self.prompt.text())
        config = TeachConfig(**values, prompt_file=prompt_file)
        config.validate()
        self._export_api_key(config.api_key_env)
        return config

    def _export_api_key(self, variable: str) -> None:
        """The core reads the key from the environment (the worker inherits it); it lives
        in this process's memory only, never in the project, its runs or its logs."""
        key = self.source.typed_api_key()
        if key and self.source.source() == ENDPOINT:
            os.environ[variable] = key

    # -- actions ---------------------------------------------------------------------------

    def test_endpoint(self) -> None:
        """Check the endpoint on a background thread; the answer lands next to the button."""
        config = self._guarded_config()
        if config is None:
            return
        self.source.test_status.setText("Checking…")
        call = self._background(check_endpoint_call, config)
        call.succeeded.connect(self._on_endpoint_ok)
        call.failed.connect(lambda exc: self._on_call_failed(exc, "The endpoint check"))
        call.start()

    def _on_endpoint_ok(self, checked: Any) -> None:
        self.banner.clear()
        key = "with the API key" if checked.had_key else "without an API key"
        self.source.test_status.setText(
            f"Connected {key}: {checked.base_url} serves {checked.model}."
        )

    def start_dry_run(self) -> None:
        """Run the teacher on 5 records on a background thread and show its answers."""
        config = self._guarded_config()
        if config is None or self.context.project_dir is None:
            return
        self.dry_run_button.setEnabled(False)
        self.dry_run_button.setText("Dry run running…")
        call = self._background(dry_run, self.context.project_dir, config)
        call.succeeded.connect(self._show_dry_run)
        call.failed.connect(lambda exc: self._on_call_failed(exc, "The dry run"))
        call.finished.connect(self._dry_run_done)
        call.start()

    def _show_dry_run(self, rows: list[Any]) -> None:
        self.dry_run_table.set_rows(rows, self._labels)
        self._scroll.ensureWidgetVisible(self.dry_run_table)

    def _dry_run_done(self) -> None:
        self.dry_run_button.setEnabled(True)
        self.dry_run_button.setText("Dry run on 5 records")

    def start_teaching(self) -> StageWorker | None:
        """Label every eligible record in the worker process."""
        config = self._guarded_config()
        if config is None:
            return None
        self._live = {}
        self.live.clear()
        worker = self.start_stage(TEACH, config)
        if worker.is_running():
            self.start_button.setEnabled(False)
            worker.metric.connect(self._on_metric)
            self._scroll.ensureWidgetVisible(self.live)
        return worker

    def call_finished(self, msecs: int) -> bool:
        """Wait for the endpoint check or dry run in flight (tests)."""
        return self._call is None or self._call.wait(msecs)

    # -- while it runs ---------------------------------------------------------------------

    def _on_metric(self, name: str, value: float, step: int) -> None:
        if not name.startswith("teach/"):
            return
        self._live[name.removeprefix("teach/")] = value
        rate = self._live.get("records_per_s")
        if rate is not None:
            self.job_panel.set_rate(f"{rate:,.1f} records/s")
        self.live.setText(
            f"{self._live.get('records', 0):,.0f} records answered · "
            f"{rate or 0:,.1f} records/s · cost so far {self._live.get('cost', 0.0):,.4f} · "
            f"{self._live.get('failed', 0):,.0f} failed"
        )

    def on_stage_succeeded(self, stage: str, result: Any) -> None:
        self.start_button.setEnabled(True)
        if self._finetuning and stage == TEACH.key:
            self.finetune_teacher()  # the labels are stored: now the fine-tuning itself
            return
        if self._finetuning and stage == "train":
            self._finetuning = False
            self.source.folder.setText(str(result.model_dir))
            self.source.set_source(LOCAL)
            self.banner.show_info(
                "The teacher is fine-tuned on your labels and chosen below.",
                "Label all records with it; its held-out agreement appears here afterwards.",
            )
            self._look_up_models()
            return
        self._show_result(result)

    def on_stage_failed(self, stage: str, error: dict[str, Any]) -> None:
        self._finetuning = False
        self.start_button.setEnabled(True)

    def on_stage_cancelled(self, stage: str) -> None:
        super().on_stage_cancelled(stage)
        self.start_button.setEnabled(True)

    # -- helpers ---------------------------------------------------------------------------

    def _guarded_config(self) -> TeachConfig | None:
        if self._call is not None and self._call.is_running():
            self.banner.show_warning("A check is still running.", "Wait a moment for it.")
            return None
        self.banner.clear()
        return self.run_guarded(self._config)

    def _background(self, fn: Any, *args: Any) -> BackgroundCall:
        self._call = BackgroundCall(fn, *args, parent=self)
        return self._call

    def _on_call_failed(self, exc: BaseException, what: str) -> None:
        self.source.test_status.clear()
        if isinstance(exc, UserError):
            self.banner.show_user_error(exc)
        else:  # never the message: it may quote a record
            self.banner.show_error(
                f"{what} stopped on an unexpected {type(exc).__name__}",
                "check the teacher settings and try again; the project is unchanged",
            )

    def _on_source_changed(self, source: str) -> None:
        if self.banner.level() == "error":
            self.banner.clear()  # about the source just left ("no teacher model is chosen")
        # Hidden, not greyed: the human labels have no prompt, and a greyed editor reads as
        # something to unlock.
        self.prompt_box.setVisible(self.source.needs_prompt())
