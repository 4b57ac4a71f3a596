"""Which function runs which stage, resolved lazily so heavy stages import only when run.

A stage function takes ``(project, run_id, config, reporter)`` and returns a JSON-able
result dict. It raises :class:`~core.reporter.StageCancelled` when cancelled (after saving
what lets it resume) and :class:`~core.errors.UserError` for what the user must fix.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from core.errors import RunError
from core.project import Project
from core.reporter import Reporter

StageFunction = Callable[[Project, str, dict[str, Any], Reporter], dict[str, Any]]

_STAGES: dict[str, str] = {
    "selftest": "core.jobs.selftest:run_selftest_stage",
    "import": "core.data.stage:run_import_stage",
    "anonymize": "core.anonymize.stage:run_anonymize_stage",
    "teach": "core.teacher.stage:run_teach_stage",
    "evaluate": "core.evaluate.stage:run_evaluate_stage",
    "train": "core.train.stage:run_train_stage",
    "export": "core.export.stage:run_export_stage",
}


def register(name: str, target: str) -> None:
    """Register ``"module:function"`` as the runner of stage ``name``."""
    _STAGES[name] = target


def stage_names() -> list[str]:
    return sorted(_STAGES)


def resolve(name: str) -> StageFunction:
    """The stage function for ``name``.

    Raises:
        RunError: no such stage.
    """
    target = _STAGES.get(name)
    if target is None:
        raise RunError(f"unknown stage {name!r}", f"known stages: {', '.join(stage_names())}")
    module_name, function_name = target.split(":")
    function: StageFunction = getattr(importlib.import_module(module_name), function_name)
    return function
