"""Every stage, described once (DESIGN §4).

A :class:`Stage` names a stage's key (as stored in ``runs.stage``), its title, its config
and result types, and the function that runs it, plus the phrases people read about it.
The run lifecycle, the stage states, ``stillroom status``, the CLI and the window's sidebar
all read :data:`STAGES`; a new stage is one descriptor here plus its own package and page.

The run function is named as ``"module:function"`` and imported when a run starts, so
reading the registry never imports torch, Presidio or onnxruntime.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from core.anonymize.config import AnonymizeConfig, AnonymizeResult
from core.data.importer import ImportConfig, ImportResult
from core.errors import RunError
from core.evaluate.config import EvaluateConfig, EvaluateResult
from core.export.config import ExportConfig, ExportResult
from core.jobs.selftest import SelftestConfig, SelftestResult
from core.monitor.config import (
    REDISTILL_RESUME_IGNORES,
    MonitorConfig,
    MonitorResult,
    RedistillConfig,
    RedistillResult,
)
from core.serve.config import ServeConfig, ServeResult
from core.teacher.config import TeachConfig, TeachResult
from core.train.config import RESUME_OVERRIDES, TrainConfig, TrainResult

C = TypeVar("C")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RunContext:
    """The run a stage function executes under.

    Attributes:
        id: the ``runs`` row's id.
        dir: the run's own folder (``runs/<id>``), created owner-only.
        resumed: True when the run was started before and stopped (resume where it was).
    """

    id: str
    dir: Path
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class Stage(Generic[C, R]):
    """One stage of the pipeline.

    Attributes:
        key: its name in ``runs.stage``, the CLI and :func:`core.stage_states` (``train``).
        title: what the sidebar calls it (``Train``).
        page: the window's page for it, ``desktop/pages/<page>_page.py``.
        config: the frozen dataclass of its settings.
        result: the frozen dataclass it returns and the store keeps.
        runner: ``"module:function"`` of ``run_<stage>(project, config, *, run, reporter)``.
        noun: what one run is called in sentences (``training run``).
        ran: "it happened" (``the student was trained``).
        changed: "it happened again" (``the student was retrained``), for staleness.
        first: what to do before it can start (``Run the teacher first.``).
        resume_ignores: config fields that may differ between a stopped run and the
            command that resumes it (they change speed or memory, not what is computed).
        shown: False for stages that are not a step of the pipeline (the self-test).
        optional: a step the stages after it do not need (the trial server): it neither
            unlocks them nor makes them stale.
    """

    key: str
    title: str
    page: str
    config: type[C]
    result: type[R]
    runner: str
    noun: str
    ran: str = ""
    changed: str = ""
    first: str = ""
    resume_ignores: frozenset[str] = frozenset()
    shown: bool = True
    optional: bool = False

    def function(self) -> Callable[..., R]:
        """The stage's run function, imported now."""
        module_name, function_name = self.runner.split(":")
        function: Callable[..., R] = getattr(importlib.import_module(module_name), function_name)
        return function


IMPORT = Stage(
    key="import", title="Data", page="data", config=ImportConfig, result=ImportResult,
    runner="core.data.importer:run_import", noun="import",
    changed="the data was re-imported",
)  # fmt: skip
ANONYMIZE = Stage(
    key="anonymize", title="Anonymize", page="anonymize",
    config=AnonymizeConfig, result=AnonymizeResult,
    runner="core.anonymize.stage:run_anonymize", noun="anonymization run",
    ran="anonymization ran", changed="the anonymization was re-run",
    first="Import data first.",
)  # fmt: skip
TEACH = Stage(
    key="teach", title="Teacher", page="teacher", config=TeachConfig, result=TeachResult,
    runner="core.teacher.stage:run_teach", noun="teacher run", ran="the teacher ran",
    changed="the teacher was re-run", first="Anonymize the data first.",
)  # fmt: skip
TRAIN = Stage(
    key="train", title="Train", page="train", config=TrainConfig, result=TrainResult,
    runner="core.train.stage:run_train", noun="training run",
    ran="the student was trained", changed="the student was retrained",
    first="Run the teacher first.", resume_ignores=RESUME_OVERRIDES,
)  # fmt: skip
EVALUATE = Stage(
    key="evaluate", title="Evaluate", page="evaluate",
    config=EvaluateConfig, result=EvaluateResult,
    runner="core.evaluate.stage:run_evaluate", noun="evaluation",
    ran="the evaluation ran", changed="the evaluation was re-run",
    first="Train a student first.",
)  # fmt: skip
EXPORT = Stage(
    key="export", title="Export", page="export", config=ExportConfig, result=ExportResult,
    runner="core.export.stage:run_export", noun="export", ran="the bundle was exported",
    changed="the bundle was re-exported", first="Evaluate the student first.",
)  # fmt: skip
SERVE = Stage(
    key="serve", title="Deploy", page="deploy", config=ServeConfig, result=ServeResult,
    runner="core.serve.stage:run_serve", noun="trial server", ran="a trial server ran",
    changed="a trial server ran again", first="Export a bundle first.", optional=True,
)  # fmt: skip
MONITOR = Stage(
    key="monitor", title="Monitor", page="monitor", config=MonitorConfig, result=MonitorResult,
    runner="core.monitor.stage:run_monitor", noun="monitor run",
    ran="the traffic was judged", changed="the traffic was judged again",
    first="Export a bundle first, then serve it (`stillroom serve`, or a trial).",
)  # fmt: skip
# Re-distillation runs from the Monitor page (no page of its own): it starts an anonymize,
# teach, train, evaluate and export run of its own, which the pipeline's states show.
REDISTILL = Stage(
    key="redistill", title="Re-distill", page="monitor",
    config=RedistillConfig, result=RedistillResult,
    runner="core.monitor.redistill:run_redistill", noun="re-distillation",
    ran="the student was re-distilled", changed="the student was re-distilled again",
    first="Monitor the served bundle first.", resume_ignores=REDISTILL_RESUME_IGNORES,
    shown=False,
)  # fmt: skip
SELFTEST = Stage(
    key="selftest", title="Self-test", page="", config=SelftestConfig, result=SelftestResult,
    runner="core.jobs.selftest:run_selftest", noun="self-test", shown=False,
)  # fmt: skip

STAGES: tuple[Stage[Any, Any], ...] = (
    IMPORT, ANONYMIZE, TEACH, TRAIN, EVALUATE, EXPORT, SERVE, MONITOR, REDISTILL, SELFTEST,
)  # fmt: skip
PIPELINE: tuple[Stage[Any, Any], ...] = tuple(stage for stage in STAGES if stage.shown)


def stage(key: str) -> Stage[Any, Any]:
    """The stage called ``key``.

    Raises:
        RunError: no stage has that key.
    """
    for candidate in STAGES:
        if candidate.key == key:
            return candidate
    known = ", ".join(s.key for s in STAGES)
    raise RunError(f"unknown stage {key!r}", f"known stages: {known}")
