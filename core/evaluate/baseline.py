"""The "quantize only" baseline: the teacher itself in INT8, without any distillation.

It answers the product owner's first question — would quantizing the big model have been
enough? It exists where the teacher is a local sequence classifier (its folder is found
through the teach run that produced its outputs); an endpoint, the human labels or a causal
LM prompted for a label have no such baseline here, and the report says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import TeacherError
from core.jobs.runs import list_runs
from core.project import Project
from core.teacher.models import folder_digest, model_kind

_TEMPERATURE = re.compile(r"[?&]t=([0-9.eE+-]+)")


@dataclass(frozen=True, slots=True)
class BaselinePlan:
    """Where the teacher's model folder is, or why there is no baseline."""

    folder: Path | None
    temperature: float
    reason: str = ""


def plan_baseline(project: Project, teacher_id: str | None) -> BaselinePlan:
    """Find the local classifier folder behind ``teacher_id``, or say why there is none."""
    if teacher_id is None:
        return BaselinePlan(None, 1.0, "there are no teacher outputs to compare with")
    if teacher_id.startswith("labels:"):
        return BaselinePlan(None, 1.0, "the teacher is the human labels: no model to quantize")
    if teacher_id.startswith("openai:"):
        return BaselinePlan(
            None, 1.0, "the teacher is a remote endpoint: its weights are not on this machine"
        )
    if "?answers=" in teacher_id:
        return BaselinePlan(
            None,
            1.0,
            "the teacher is a causal LM prompted for its label; "
            "only a local sequence classifier is quantized here (the export "
            "stage's ONNX INT8 path will cover it)",
        )
    folder = _teacher_folder(project, teacher_id.split("?", 1)[0])
    if folder is None:
        return BaselinePlan(
            None,
            1.0,
            "no teach run of this project names a local classifier folder with the "
            "teacher's identity (it was moved or changed since)",
        )
    match = _TEMPERATURE.search(teacher_id)
    return BaselinePlan(folder, float(match.group(1)) if match else 1.0)


def _teacher_folder(project: Project, identity: str) -> Path | None:
    """The folder of a teach run whose model has this ``hf:name@digest`` identity."""
    seen: set[Path] = set()
    for run in reversed(list_runs(project, "teach")):
        spec = str(run.config.get("teacher", ""))
        if not spec.startswith("hf:"):
            continue
        folder = Path(spec[3:]).expanduser()
        if folder in seen or not (folder / "config.json").is_file():
            continue
        seen.add(folder)
        folder = folder.resolve()
        try:
            if f"hf:{folder.name}@{folder_digest(folder)}" != identity:
                continue
            if model_kind(folder) == "classifier":
                return folder
        except (OSError, TeacherError):
            continue
    return None
