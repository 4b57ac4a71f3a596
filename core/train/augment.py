"""Optional rare-class augmentation: the teacher labels perturbed copies of rare-class inputs.

A class with a handful of training rows gives the student few chances to learn it; more
of its *inputs* give the teacher more to say about it. Each training row of a rare class
(at most 1 / :data:`core.train.recipe.SKEW_RATIO` of the largest class's rows) gets
``copies`` perturbed copies — a seeded token dropout and one swap of neighbouring tokens —
and the teacher's soft label of each copy is its target (never the source row's label: a
copy that lost the words that made it rare is whatever the teacher says it is).

Copies are made from the train split only, after validation has been held out, and never
stored: validation and test never see them. Only a local classifier teacher (``hf:``, the
folder that taught) can label them here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from core.errors import TrainError
from core.train.data import Example
from core.train.losses import IGNORE_INDEX
from core.train.recipe import SKEW_RATIO, row_classes

DROPOUT = 0.15  # share of tokens a copy loses
_MIN_TOKENS = 3  # shorter inputs have nothing to spare


def rare_classes(counts: Sequence[int]) -> set[int]:
    """Classes with rows but at most 1/SKEW_RATIO of the largest class's rows."""
    largest = max(counts, default=0)
    return {k for k, n in enumerate(counts) if n > 0 and n * SKEW_RATIO <= largest}


def perturb(text: str, rng: random.Random) -> str:
    """``text`` with about :data:`DROPOUT` of its tokens dropped and two neighbours swapped.

    Tokens are whitespace-separated words; at least one survives. Short inputs come back
    unchanged (a copy of them would only repeat the row).
    """
    tokens = text.split()
    if len(tokens) < _MIN_TOKENS:
        return text
    kept = [t for t in tokens if rng.random() >= DROPOUT] or [rng.choice(tokens)]
    if len(kept) >= 2:
        i = rng.randrange(len(kept) - 1)
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return " ".join(kept)


def copy_texts(
    train: Sequence[Example], counts: Sequence[int], copies: int, seed: int
) -> list[tuple[int, str]]:
    """(source record id, perturbed text) for ``copies`` copies of each rare-class row.

    Seeded per source row, so a resumed run makes the same copies. Copies identical to
    their source or to each other are dropped (they would add nothing).
    """
    rare = rare_classes(counts)
    made: list[tuple[int, str]] = []
    for example, klass in zip(train, row_classes(train), strict=True):
        if klass not in rare:
            continue
        rng = random.Random(f"{seed}:{example.record_id}")
        seen = {example.text}
        for _ in range(copies):
            text = perturb(example.text, rng)
            if text not in seen:
                seen.add(text)
                made.append((example.record_id, text))
    return made


def teacher_copies(
    made: Sequence[tuple[int, str]], folder: Path, labels: tuple[str, ...], teacher_id: str,
    hard_labels: str,
) -> list[Example]:  # fmt: skip
    """The copies as training examples with the teacher's soft labels as their targets.

    ``hard_labels`` ``teacher``: the teacher's label is also the hard target; ``human``:
    none (a copy has no human label), so only the distillation term learns from it.

    Raises:
        TeacherModelError: the teacher's folder cannot be loaded for these labels.
    """
    from core.teacher.base import TeachItem
    from core.teacher.local_hf import LocalClassifierTeacher

    teacher = LocalClassifierTeacher(folder, labels, temperature=_temperature(teacher_id))
    items = [TeachItem(i, "train", None, text) for i, (_, text) in enumerate(made)]
    vectors: dict[int, tuple[float, ...]] = {}
    try:
        for batch in teacher.outputs(items):
            vectors.update({o.record_id: o.probabilities or () for o in batch.outputs})
    finally:
        teacher.close()
    examples = []
    for i, (record_id, text) in enumerate(made):
        vector = vectors[i]
        best = max(range(len(vector)), key=vector.__getitem__)
        hard = best if hard_labels == "teacher" else IGNORE_INDEX
        examples.append(Example(record_id, text, vector, hard_label=hard, eval_label=best))
    return examples


def local_classifier(teacher_id: str) -> bool:
    """Whether a teacher id names a local classifier folder: ``hf:`` without ``answers=``
    (which an LLM teacher answering with label words carries, local or endpoint)."""
    return teacher_id.startswith("hf:") and "answers=" not in teacher_id


def augment_unavailable(task: str, teacher_id: str | None) -> str | None:
    """Why rare-class augmentation cannot run for this task and teacher, in plain words;
    None when it can as far as the id tells (the folder itself is checked when training
    starts) or when no teacher has answered yet."""
    if task != "classification":
        return "rare-class copies apply to classification projects only"
    if teacher_id is not None and not local_classifier(teacher_id):
        return ("rare-class copies need a local classifier teacher (a model folder on this "
                "computer) to label them; this project's teacher is not one")  # fmt: skip
    return None


def augmentable_teacher(project: object, teacher_id: str) -> Path:
    """The local folder of the teacher that taught, to label the copies with.

    Raises:
        TrainError: the teacher is not a local classifier folder that still matches.
    """
    from core.train.derive import teacher_folder

    folder = teacher_folder(project, teacher_id)
    if folder is None or not local_classifier(teacher_id):
        raise TrainError(
            "--augment-rare needs a local classifier teacher (hf:FOLDER) whose folder is "
            "unchanged since it taught",
            "drop --augment-rare, or teach with a local classifier model",
        )
    return folder


def _temperature(teacher_id: str) -> float:
    """The soft-label temperature recorded in a ``hf:`` teacher id (``...?t=2``)."""
    for part in teacher_id.split("?", 1)[-1].split("&"):
        if part.startswith("t="):
            return float(part[2:])
    return 1.0
