"""What a newcomer needs to set up a teacher (issue 20): the local models with what each is
good for, the teachers fine-tuned in this project, the settings to fine-tune one from the
human labels, and whether a model folder reads a prompt.

The Teacher page offers these; the demo fine-tunes its teacher the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.jobs.registry import TRAIN
from core.jobs.runs import list_runs, run_config, run_result
from core.project import Project
from core.train.catalogue import ModelEntry
from core.train.config import TrainConfig

HELD_OUT = ("validation", "test")


@dataclass(frozen=True, slots=True)
class TeacherChoice:
    """A local model a teacher can be, in words."""

    path: Path
    name: str
    good_for: str  # one sentence
    prompted: bool  # it reads a prompt (a causal LM)
    usable: bool  # it can answer as it is (False: an encoder without a head)


def local_teachers(project: Project, entries: Iterable[ModelEntry]) -> list[TeacherChoice]:
    """The teachers fine-tuned in this project (newest first), then the catalogue's models."""
    choices = []
    for run in reversed(list_runs(project, TRAIN.key)):
        result = run_result(project, TRAIN, run)
        if result is None or not result.model_dir.is_dir():
            continue
        if run_config(project, TRAIN, run).alpha == 0.0:
            choices.append(TeacherChoice(
                result.model_dir, f"Fine-tuned here on your labels ({run.id})",
                "A classifier trained on the human labels of the train split: a fast teacher "
                "that needs no prompt.", prompted=False, usable=True,
            ))  # fmt: skip
    return choices + [_describe(entry) for entry in entries]


_LLM = (
    "An instruction-following language model: it answers from the prompt below; slower, "
    "needs no labelled data."
)
_CLASSIFIER = "A classifier with a head for your labels: fast, no prompt."
_ENCODER = ("An encoder without a classification head: it cannot answer yet. Fine-tune it on "
            "your labels first (button below).")  # fmt: skip


def _describe(entry: ModelEntry) -> TeacherChoice:
    name = entry.display_name or entry.path.name
    if "generation" in entry.tasks:
        return TeacherChoice(entry.path, name, _LLM, prompted=True, usable=True)
    if entry.architecture.endswith("ForSequenceClassification"):
        return TeacherChoice(entry.path, name, _CLASSIFIER, prompted=False, usable=True)
    return TeacherChoice(entry.path, name, _ENCODER, prompted=False, usable=False)


def reads_prompt(folder: Path) -> bool:
    """Whether a local model folder is a language model that reads a prompt (a ``.gguf``
    file, a causal LM) rather than a classifier or an encoder; True when it cannot be told."""
    if folder.suffix == ".gguf":
        return True
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    architectures = [str(a) for a in config.get("architectures") or []]
    return not architectures or any(
        a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures
    )


def finetune_config(student: Path, teacher_id: str) -> TrainConfig:
    """Train settings that fine-tune ``student`` on the human labels (cross-entropy only,
    alpha 0): the train split teaches, the validation split picks the best checkpoint, the
    test and edge-case records are never read."""
    return TrainConfig(student=str(student), teacher_id=teacher_id, alpha=0.0, epochs=3.0)


def held_out(accuracy: dict[str, float], counts: dict[str, int]) -> dict[str, tuple[float, int]]:
    """The teacher's agreement with the human labels on rows it cannot have been trained
    on (validation and test), per split and together."""
    shown = {s: (accuracy[s], counts.get(s, 0)) for s in HELD_OUT if s in accuracy}
    total = sum(n for _, n in shown.values())
    if len(shown) > 1 and total:
        together = sum(value * n for value, n in shown.values()) / total
        shown["validation and test"] = (together, total)
    return shown
