"""The "quantize only" baseline: the teacher itself in INT8, without any distillation.

It answers the product owner's first question — would quantizing the big model have been
enough? It exists where the teacher is a local sequence classifier (its folder is found
through the teach run that produced its outputs); an endpoint, the human labels or a causal
LM prompted for a label have no such baseline here, and the report says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import TeacherError
from core.jobs.registry import TEACH
from core.jobs.runs import latest, run_config
from core.project import Project
from core.teacher.config import parse_spec
from core.teacher.models import folder_digest
from core.teacher.sources import source_of


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
    found = latest(project, TEACH, where=lambda r: r.teacher_id == teacher_id)
    if found is None:
        return BaselinePlan(None, 1.0, "no teach run of this project stored these outputs")
    source = source_of(found.result.teacher_kind)
    if source is None or not source.quantizable:
        return BaselinePlan(None, 1.0, source.no_baseline if source else "unknown teacher")
    config = run_config(project, TEACH, found.run)
    folder = _same_model(config.teacher, teacher_id)
    if folder is None:
        return BaselinePlan(
            None,
            1.0,
            "no teach run of this project names a local classifier folder with the "
            "teacher's identity (it was moved or changed since)",
        )
    return BaselinePlan(folder, 1.0 if config.temperature is None else config.temperature)


def _same_model(spec: str, teacher_id: str) -> Path | None:
    """The teach run's model folder, if it still holds the model that made the outputs."""
    folder = Path(parse_spec(spec)[1]).expanduser()
    if not (folder / "config.json").is_file():
        return None
    folder = folder.resolve()
    try:
        # A local teacher's id starts with its folder's name and digest: same model still?
        return (
            folder if teacher_id.startswith(f"hf:{folder.name}@{folder_digest(folder)}") else None
        )
    except (OSError, TeacherError):
        return None
