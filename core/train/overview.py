"""Fast reads for a train screen: the latest train run, its curves, the visible GPUs.

Everything here reads the store and the run folder only (no model is loaded), except
:func:`cuda_devices`, which imports torch and so belongs off any UI thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.jobs.registry import TRAIN
from core.jobs.runs import RESUMABLE, list_runs, reconcile_runs, run_config, run_result
from core.project import Project
from core.train.checkpoints import CURVES, checkpoint_step, latest_checkpoint
from core.train.config import TrainConfig, TrainResult

# eval_worst_class (a class index) is no curve: the Train page names the worst class with it.
# epoch is the chart's top axis.
CURVE_NAMES = ("loss", "eval_loss", "eval_accuracy", "eval_macro_f1",
               "eval_worst_class_retention", "eval_worst_class", "epoch")  # fmt: skip


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One logged value: ``name`` is a curves.jsonl key (``loss``, ``eval_loss``, ...)."""

    name: str
    step: int
    value: float


@dataclass(frozen=True, slots=True)
class TrainRunView:
    """The latest train run as a screen shows it (numbers and paths, no record contents)."""

    run_id: str
    status: str
    config: TrainConfig
    result: TrainResult | None  # of a succeeded run
    error: str | None
    checkpoint_step: int
    curves: tuple[CurvePoint, ...]

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE


def read_curves(path: Path) -> list[CurvePoint]:
    """The loss and validation points of a run's curves.jsonl, in file order.

    A missing file gives no points; a line cut short by a kill is skipped.
    """
    if not path.is_file():
        return []
    points = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        step = int(row.get("step", 0))
        points += [CurvePoint(name, step, float(row[name])) for name in CURVE_NAMES if name in row]
    return points


def latest_train_run(project: Project) -> TrainRunView | None:
    """The newest train run, or None; a run whose process died is marked interrupted first.

    Raises:
        StoredDataError: the run's stored config or result does not fit its type.
    """
    reconcile_runs(project)
    # An --auto search's trials are shown through the search's own run.
    found = [r for r in list_runs(project, TRAIN.key)
             if run_config(project, TRAIN, r).parent_run is None]  # fmt: skip
    if not found:
        return None
    run = found[-1]
    run_dir = project.run_dir(run.id)
    checkpoint = latest_checkpoint(run_dir, remove_incomplete=False)
    return TrainRunView(
        run_id=run.id,
        status=run.status,
        config=run_config(project, TRAIN, run),
        result=run_result(project, TRAIN, run),
        error=run.error_message,
        checkpoint_step=checkpoint_step(checkpoint),
        curves=tuple(read_curves(run_dir / CURVES)),
    )


def cuda_devices() -> list[str]:
    """``cuda:N (name)`` for every CUDA device torch sees; empty without CUDA.

    Imports torch (seconds): call it from a background thread in a GUI.
    """
    import torch

    if not torch.cuda.is_available():
        return []
    return [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
