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
from core.teacher.models import folder_digest, model_kind

# Endpoint teachers: ``openai`` (the spec's kind); 0.1 projects stored ``endpoint``.
_REMOTE = frozenset({"openai", "endpoint"})


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
    kind = found.result.teacher_kind
    if kind == "labels":
        return BaselinePlan(None, 1.0, "the teacher is the human labels: no model to quantize")
    if kind in _REMOTE:
        return BaselinePlan(
            None, 1.0, "the teacher is a remote endpoint: its weights are not on this machine"
        )
    config = run_config(project, TEACH, found.run)
    local = _local_model(config.teacher, teacher_id)
    if local is None:
        return BaselinePlan(
            None,
            1.0,
            "no teach run of this project names a local classifier folder with the "
            "teacher's identity (it was moved or changed since)",
        )
    folder, architecture = local
    if architecture != "classifier":
        return BaselinePlan(
            None,
            1.0,
            "the teacher is a causal LM prompted for its label; "
            "only a local sequence classifier is quantized here (the export "
            "stage's ONNX INT8 path will cover it)",
        )
    return BaselinePlan(folder, 1.0 if config.temperature is None else config.temperature)


def _local_model(spec: str, teacher_id: str) -> tuple[Path, str] | None:
    """The teach run's model folder and its kind (``classifier``, ``causal``), if the folder
    still holds the model that made the outputs."""
    kind, location = parse_spec(spec)
    folder = Path(location).expanduser()
    if kind != "hf" or not (folder / "config.json").is_file():
        return None
    folder = folder.resolve()
    try:
        # A local teacher's id starts with its folder's name and digest: same model still?
        if not teacher_id.startswith(f"hf:{folder.name}@{folder_digest(folder)}"):
            return None
        return folder, model_kind(folder)
    except (OSError, TeacherError):
        return None
