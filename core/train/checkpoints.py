"""Finding the checkpoint to resume from, and keeping the curves in step with it.

The Trainer writes a checkpoint's files one after another and ``trainer_state.json`` last,
so a checkpoint folder without it (or without its optimizer, scheduler or RNG state) was
cut short by a kill; it is removed and the one before it is used. A kill -9 therefore loses
at most the steps since the last complete checkpoint.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

CHECKPOINTS = "checkpoints"
CURVES = "curves.jsonl"
_NAME = re.compile(r"^checkpoint-(\d+)$")
_REQUIRED = ("trainer_state.json", "optimizer.pt", "scheduler.pt")
_WEIGHTS = ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin",
            "model.safetensors.index.json", "adapter_model.bin")  # fmt: skip


def is_complete(folder: Path) -> bool:
    """Every file a resume needs is there (RNG state: one file per process)."""
    return (
        all((folder / name).is_file() for name in _REQUIRED)
        and any((folder / name).is_file() for name in _WEIGHTS)
        and any(folder.glob("rng_state*.pth"))
    )


def latest_checkpoint(run_dir: Path, *, remove_incomplete: bool = True) -> Path | None:
    """The newest complete checkpoint of the run, or None; half-written ones are removed."""
    root = run_dir / CHECKPOINTS
    if not root.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for folder in root.iterdir():
        match = _NAME.match(folder.name)
        if not match or not folder.is_dir():
            continue
        if is_complete(folder):
            found.append((int(match.group(1)), folder))
        elif remove_incomplete:
            shutil.rmtree(folder, ignore_errors=True)
    return max(found)[1] if found else None


def checkpoint_step(checkpoint: Path | None) -> int:
    """The optimizer step a checkpoint was saved at (0 for none)."""
    if checkpoint is None:
        return 0
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state.get("global_step", 0))


def trim_curves(run_dir: Path, step: int) -> None:
    """Drop curve points logged after ``step``: the resumed run logs them again."""
    path = run_dir / CURVES
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            point = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if int(point.get("step", 0)) <= step:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def initial_figures(run_dir: Path) -> dict[str, float]:
    """The validation figures logged at step 0, before any training (empty if none)."""
    path = run_dir / CURVES
    if not path.is_file():
        return {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            point = json.loads(line)
        except ValueError:
            continue
        if int(point.get("step", 0)) == 0 and "eval_loss" in point:
            return eval_figures(point)
    return {}


def eval_figures(logged: dict[str, Any]) -> dict[str, float]:
    """``eval_*`` numbers of one logged validation, without the prefix or the timings."""
    return {k.removeprefix("eval_"): float(v) for k, v in logged.items()
            if k.startswith("eval_") and isinstance(v, int | float)
            and not k.endswith(("_runtime", "_per_second"))}  # fmt: skip


def remove_scratch(run_dir: Path) -> None:
    """Remove half-built student or derived folders that a kill left behind."""
    for pattern in (".student-*", ".derive-*"):
        for folder in run_dir.glob(pattern):
            shutil.rmtree(folder, ignore_errors=True)
