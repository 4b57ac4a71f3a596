"""The Train page: pick a student, set a few knobs, watch the curves, stop and resume.

Training runs in the worker process (``start_stage(TRAIN, ...)``); the page feeds the
chart from the worker's ``metric`` signal, and from the run's curves.jsonl when a project is
reopened. Resume re-runs the stopped run id, which continues from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from core.jobs import protocol
from core.jobs.memory import halved_batch
from core.jobs.registry import TRAIN
from core.train.config import TrainConfig, TrainResult
from core.train.overview import TrainRunView
from desktop.pages.base import StagePage
from desktop.widgets.background_call import BackgroundCall, settle_heavy_imports
from desktop.widgets.curve_chart import CurveChart
from desktop.widgets.form_fields import primary_button, wrapped_label
from desktop.widgets.scroll_body import scrolling_body
from desktop.widgets.student_picker import StudentPicker
from desktop.widgets.train_settings_form import TrainSettingsForm
from desktop.workers.stage_worker import StageWorker

_INTRO = (
    "The student learns from the teacher's answers on the training records and is checked "
    "on the validation records as it goes. Training saves checkpoints, so a stopped run "
    "resumes where it stopped."
)


def find_models() -> list[Any]:
    """The local model catalogue (reads weight-file headers; imports transformers)."""
    from core.train.catalogue import catalogue, default_roots

    entries = catalogue(default_roots())
    settle_heavy_imports()
    return entries


def find_gpus() -> list[str]:
    """The CUDA devices torch sees (imports torch: seconds)."""
    from core.train.overview import cuda_devices

    names = cuda_devices()
    settle_heavy_imports()
    return names


class TrainPage(StagePage):
    stage = TRAIN

    def build(self) -> None:
        self._scroll, body = scrolling_body(self, self.body_layout)
        intro = wrapped_label(_INTRO, self)
        student_box = QGroupBox("Student model", self)
        self.student = StudentPicker(student_box)
        QVBoxLayout(student_box).addWidget(self.student)
        settings_box = QGroupBox("Settings", self)
        self.settings = TrainSettingsForm(settings_box)
        QVBoxLayout(settings_box).addWidget(self.settings)
        buttons = self._build_buttons()  # before the chart: tab order follows creation
        self.chart = CurveChart(self)
        self.worst_class = wrapped_label("", self, "worstClass", plain=True)
        self.worst_class.setToolTip(
            "At each validation: the class whose F1 keeps the smallest share of the "
            "teacher's F1 on the same records (the evaluation's per-class retention)."
        )
        self.frontier = QLabel(self)
        self.frontier.setObjectName("searchFrontier")
        self.frontier.setAccessibleName("Search frontier: quality against speed")
        self.frontier.setVisible(False)
        self.summary = wrapped_label("", self, "trainSummary", plain=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for widget in (intro, student_box, settings_box):
            body.addWidget(widget)
        body.addLayout(buttons)
        body.addWidget(self.chart)
        body.addWidget(self.worst_class)
        body.addWidget(self.frontier)
        body.addWidget(self.summary)
        body.addStretch(1)
        self._view: TrainRunView | None = None  # the latest run
        self._task = "classification"
        self._labels: tuple[str, ...] = ()
        self._worst: dict[str, float] = {}  # the last validation's worst-class figures
        self._worst_step = -1
        self._catalogue: list[Any] = []
        self._shown_project: object = None
        self._oom_batch: tuple[int, int] | None = None  # (batch, accumulation) to resume at
        self._models_call: BackgroundCall | None = None
        self._gpus_call: BackgroundCall | None = None
        self._update_buttons()

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = primary_button(
            "Start training", "Train a new student with these settings", self
        )
        self.start_button.clicked.connect(self.start_training)
        self.resume_button = QPushButton("Resume", self)
        self.resume_button.setToolTip(
            "Continue the stopped run from its last checkpoint, with its own settings; only "
            "the batch size and the device may change"
        )
        self.resume_button.clicked.connect(self.resume_training)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.resume_button)
        row.addStretch(1)
        return row

    # -- reading the store -----------------------------------------------------------------

    def refresh(self) -> None:
        if self.context.project_dir is None:
            self._view = None
            self.chart.clear()
            self.summary.setText("Open a project to train a student.")
            self._update_buttons()
            return
        loaded = self.run_guarded(self._load)
        if loaded is None:
            return
        task, self._labels, view, augment_blocked = loaded
        self.settings.set_augment_unavailable(augment_blocked)
        if task != self._task:
            self._task = task
            looking = self._models_call is None or self._models_call.is_running()
            self.student.set_entries(self._catalogue, task, looking=looking)
        self._look_up_models_and_gpus()
        if not self.busy():
            first_look = self._shown_project != self.context.project_dir
            self._shown_project = self.context.project_dir
            self._show_run(view, restore_form=first_look)

    def _load(self) -> tuple[str, tuple[str, ...], TrainRunView | None, str | None]:
        """The task, labels, latest run, and why rare-class copies cannot be made (None:
        they can, as far as the newest teacher's id tells)."""
        from core.store.teacher_outputs import newest_teacher
        from core.train.augment import augment_unavailable
        from core.train.overview import latest_train_run

        with self.context.project() as project:
            settings = project.settings
            teacher = newest_teacher(project.store)
            blocked = augment_unavailable(settings.task, None if teacher is None else teacher[0])
            return settings.task, settings.labels, latest_train_run(project), blocked

    def _show_run(self, view: TrainRunView | None, *, restore_form: bool) -> None:
        self._view = view
        self.worst_class.setText("")
        self._show_frontier(None if view is None or view.result is None else view.result)
        self.chart.keeps_last = view is not None and not view.config.keep_best
        if view is None:
            self.chart.clear()
            self.summary.setText("No student has been trained in this project yet.")
        else:
            self.chart.set_points((p.name, p.step, p.value) for p in view.curves)
            self._worst_step, self._worst = -1, {}
            for point in view.curves:  # the last validation's worst class, as it was live
                if point.name in ("eval_worst_class_retention", "eval_worst_class"):
                    self._on_worst_class(point.name, point.value, point.step)
            self.summary.setText(_describe_run(view))
            if restore_form:
                self.student.set_values(view.config)
                self.settings.set_values(view.config)
        self._update_buttons()

    def _look_up_models_and_gpus(self) -> None:
        """Once per page: the model catalogue and the GPUs, each on a background thread."""
        if self._models_call is None:
            self._models_call = BackgroundCall(find_models, parent=self)
            self._models_call.succeeded.connect(self._on_models)
            self._models_call.start()
        if self._gpus_call is None:
            self._gpus_call = BackgroundCall(find_gpus, parent=self)
            self._gpus_call.succeeded.connect(self._on_gpus)
            self._gpus_call.start()

    def _on_models(self, entries: list[Any]) -> None:
        self._catalogue = entries
        self.student.set_entries(entries, self._task)

    def _on_gpus(self, names: list[str]) -> None:
        chosen = self.settings.device.currentData()
        self.settings.set_devices(names)
        index = self.settings.device.findData(chosen)
        self.settings.device.setCurrentIndex(max(index, 0))

    def lookups_finished(self, msecs: int) -> bool:
        """Wait for the catalogue and GPU look-ups (tests, the stall bench)."""
        calls = [c for c in (self._models_call, self._gpus_call) if c is not None]
        return all(call.wait(msecs) for call in calls)

    # -- starting and resuming -------------------------------------------------------------

    def start_training(self) -> StageWorker | None:
        """Start a new train run with the page's settings; a bad setting goes to the banner."""
        config = self.run_guarded(self._config)
        if config is None:
            return None
        self._oom_batch = None
        self.chart.keeps_last = False  # the page's runs keep their best checkpoint
        self.chart.clear()
        return self._follow(self.start_stage(TRAIN, config))

    def _config(self) -> TrainConfig:
        from core.errors import TrainError
        from core.train.data import pick_teacher

        config = TrainConfig(**self.student.values(), **self.settings.values())
        config.validate()
        with self.context.project() as project:
            try:  # a quick read: say it now rather than after the worker has loaded torch
                pick_teacher(project, config.teacher_id, config.prompt_version)
            except TrainError as exc:
                raise TrainError(
                    exc.message, "label the records on the Teacher page first"
                ) from None
        return config

    def resume_training(self) -> StageWorker | None:
        """Resume the latest stopped run from its last checkpoint."""
        view = self._view
        if view is None or not view.resumable or self.busy():
            return None
        config = self.run_guarded(self._store_resume_changes, view)
        if config is None:
            return None
        self.chart.set_points(
            (p.name, p.step, p.value) for p in view.curves if p.step <= view.checkpoint_step
        )
        return self._follow(self.start_stage(TRAIN, config, run_id=view.run_id))

    def _store_resume_changes(self, view: TrainRunView) -> TrainConfig:
        """The stopped run's config with the resume-safe changes (batch size, device) made
        on the page, stored as the run's config when there are any."""
        from core.jobs.runs import replace_config

        stored = view.config
        wanted = self.settings.values()
        changes: dict[str, Any] = {}
        if self._oom_batch is not None and wanted["batch_size"] == self._oom_batch[0]:
            changes["batch_size"], changes["grad_accum"] = self._oom_batch
        elif wanted["batch_size"] != stored.batch_size:
            changes["batch_size"] = wanted["batch_size"]
        if wanted["device"] != stored.device:
            changes["device"] = wanted["device"]
        if not changes:
            return stored
        updated = dataclasses.replace(stored, **changes)
        updated.validate()
        with self.context.project() as project:
            replace_config(project, TRAIN, view.run_id, updated, "resume options")
        return updated

    def _follow(self, worker: StageWorker) -> StageWorker:
        if worker.is_running():
            worker.metric.connect(self._on_metric)
            worker.finished.connect(self.refresh)
            self.summary.setText("Training…")
            self._scroll.ensureWidgetVisible(self.chart)
        self._update_buttons()
        return worker

    # -- while it runs ---------------------------------------------------------------------

    def _on_metric(self, name: str, value: float, step: int) -> None:
        key = name.removeprefix("train/")
        if key == "samples_per_s":
            self.job_panel.set_rate(f"{value:,.1f} examples/s")
        elif key in ("eval_worst_class_retention", "eval_worst_class"):
            if key == "eval_worst_class_retention":
                self.chart.add_point(key, step, value)
            self._on_worst_class(key, value, step)
        else:
            self.chart.add_point(key, step, value)

    def _on_worst_class(self, key: str, value: float, step: int) -> None:
        """Both figures of one validation arrive as separate metrics, in either order."""
        if self._worst_step != step:
            self._worst_step, self._worst = step, {}
        self._worst[key] = value
        if len(self._worst) == 2:
            self.worst_class.setText(worst_class_line(
                self._labels, int(self._worst["eval_worst_class"]),
                self._worst["eval_worst_class_retention"], step))  # fmt: skip

    def on_stage_succeeded(self, stage: str, result: TrainResult) -> None:
        self.summary.setText(_describe_result(result))
        self._show_frontier(result)

    def _show_frontier(self, result: TrainResult | None) -> None:
        """The --auto search's quality-vs-latency plot, when the result has one."""
        search = None if result is None else result.search
        path = None if search is None or search.frontier_path is None else search.frontier_path
        png = None if path is None else path.with_suffix(".png")
        pixmap = QPixmap(str(png)) if png is not None and png.is_file() else QPixmap()
        self.frontier.setPixmap(pixmap)
        self.frontier.setVisible(not pixmap.isNull())

    def on_stage_failed(self, stage: str, error: dict[str, Any]) -> None:
        run_id = None if self.worker is None else self.worker.run_id
        if error.get("exit_code") != protocol.EXIT_OUT_OF_MEMORY or run_id is None:
            return
        stored = self.run_guarded(self._stored_config, run_id)
        if stored is None:
            return
        self._oom_batch = halved_batch(stored.batch_size, stored.grad_accum)
        half = self._oom_batch[0]
        self.settings.batch_size.setValue(half)
        self.banner.show_error(
            str(error.get("message") or "training ran out of memory"),
            f"press Resume to continue from the last checkpoint at batch size {half} (set "
            "below; the effective batch stays the same), or lower the maximum length or "
            "switch to LoRA and start again",
        )

    def _stored_config(self, run_id: str) -> TrainConfig:
        from core.jobs.runs import get_run, run_config

        with self.context.project() as project:
            return run_config(project, TRAIN, get_run(project, run_id))

    def _update_buttons(self) -> None:
        has_project = self.context.project_dir is not None
        running = self.busy()
        self.start_button.setEnabled(has_project and not running)
        resumable = self._view is not None and self._view.resumable and not running
        self.resume_button.setEnabled(bool(resumable))
        if resumable:
            self.resume_button.setText(f"Resume from step {self._view.checkpoint_step:,}")
        else:
            self.resume_button.setText("Resume")


def worst_class_line(labels: tuple[str, ...], index: int, retention: float, step: int) -> str:
    """The live worst-class line: which class, and how much of the teacher's F1 it keeps."""
    name = labels[index] if 0 <= index < len(labels) else f"class {index}"
    return (f"Worst class on validation at step {step:,}: {name} keeps {retention:.0%} of the "
            "teacher's F1.")  # fmt: skip


def _describe_run(view: TrainRunView) -> str:
    if view.result is not None:
        return _describe_result(view.result, kept_last=not view.config.keep_best)
    if view.status in ("running", "pending"):
        return f"Run {view.run_id} is {view.status}."
    where = (
        f"at step {view.checkpoint_step:,}"
        if view.checkpoint_step
        else "before its first checkpoint"
    )
    words = {"cancelled": "was stopped", "interrupted": "was interrupted",
             "failed": "stopped on an error"}  # fmt: skip
    return (
        f"The last run {words.get(view.status, view.status)} {where}. Resume continues it "
        "from its last checkpoint; Start training begins a new one."
    )


def _describe_result(result: TrainResult, *, kept_last: bool = False) -> str:
    best = result.best_val_metric
    shown = "n/a" if best is None else f"{best:.3f}"
    which = "final weights' validation" if kept_last else "best validation"
    lines = [
        f"Trained {result.global_step:,} steps ({result.epochs_run:g} epochs) on "
        f"{_device_name(result.device)}; {which} {result.val_metric_name}: {shown}"
        + (" (stopped early: it had stopped improving)" if result.stopped_early else ""),
        f"The student is in {result.model_dir}.",
    ]
    lines += [f"Note: {note}" for note in result.notes]
    reason = result.needs_attention
    if reason is not None:
        lines.insert(0, f"Needs attention: {reason[0].upper()}{reason[1:]}.")
    return "\n".join(lines)


def _device_name(device: str) -> str:
    """``cpu`` → ``CPU``, ``cuda:0 (NVIDIA …)`` → ``GPU cuda:0 (NVIDIA …)``: the run result
    holds torch's device names."""
    text = device or "an unknown device"
    if text == "cpu":
        return "CPU"
    if text.startswith("cuda"):
        return f"GPU {text}"
    return text
