"""What the student learns from: records of the train and validation splits joined with one
teacher's stored outputs (DESIGN §3, §4).

The student reads the anonymized text, as the teacher did: a student trained on raw text
could memorise personal data and the bundle leaves the workstation. Records without an
anonymized form are skipped unless ``allow_raw_text`` (audited by the stage). Test and edge
records are never read here; they belong to the evaluate stage.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from core.errors import TrainError
from core.project import Project
from core.store import teacher_outputs
from core.store.teacher_outputs import TrainingRow
from core.train.losses import IGNORE_INDEX

_HELD_OUT_SHARE = 0.1
_REORDERED_SHARE = 0.2  # argmax/label disagreements beyond this mean the label set changed
# Stored vectors are renormalised floats; anything further from a sum of 1 is not one.
_SUM_TOLERANCE = 1e-3
# More broken soft labels than this means the teacher (or its server) is broken: refuse,
# rather than train on what is left of it.
_MAX_INVALID_SHARE = 0.5
_MAX_LOGPROB = 1e-4  # a log-probability above 0 (a probability above 1), beyond rounding


@dataclass(frozen=True, slots=True)
class Example:
    """One input with its targets. ``hard_label`` is -100 where there is none to learn."""

    record_id: int
    text: str
    probabilities: tuple[float, ...] | None = None
    hard_label: int = IGNORE_INDEX
    eval_label: int = IGNORE_INDEX
    teacher_text: str | None = None
    token_logprobs: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class TrainingData:
    teacher_id: str
    prompt_version: str
    train: list[Example]
    validation: list[Example]
    skipped: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    raw_text_used: int = 0
    held_out: int = 0
    augmented: int = 0  # the last rows of ``train``: teacher-labelled copies, no records


def pick_teacher(
    project: Project, teacher_id: str | None, prompt_version: str | None
) -> tuple[str, str]:
    """The teacher (and prompt version) to learn from: as asked, or the most recent one.

    Raises:
        TrainError: no teacher outputs at all, or none for the asked teacher.
    """
    found = teacher_outputs.newest_teacher(project.store, teacher_id, prompt_version)
    if found is not None:
        return found
    if teacher_id is None:
        raise TrainError(
            "the project has no teacher outputs to learn from",
            f"run `stillroom teach {project.path} --teacher ...` first",
        )
    known = teacher_outputs.teacher_ids(project.store, 5)
    raise TrainError(
        f"no outputs of teacher {teacher_id!r} in this project",
        f"known teachers: {', '.join(known) or 'none'}",
    )


def load_data(
    project: Project, task: str, teacher: tuple[str, str], *, allow_raw_text: bool,
    hard_labels: str, alpha: float, seed: int,
) -> TrainingData:  # fmt: skip
    """Read the train and validation examples for one teacher.

    Soft labels that are not a probability distribution (NaN or infinite, negative, not
    summing to 1) are left out and counted; generation outputs whose log-probabilities are
    NaN or above 0 keep their text (SFT) and lose the log-probabilities.

    Raises:
        TrainError: the label set changed since teaching, more than half of the teacher's
            soft labels are broken, or nothing is left to train on.
    """
    labels = project.settings.labels
    tally: dict[str, int] = {"no_teacher_output": 0, "invalid_teacher_output": 0,
                             "invalid_soft_label": 0, "invalid_token_logprobs": 0,
                             "not_anonymized": 0, "no_hard_label": 0}  # fmt: skip
    splits: dict[str, list[Example]] = {"train": [], "validation": []}
    raw_used = 0
    rows = teacher_outputs.training_rows(project.store, teacher, allow_raw=allow_raw_text)
    if task == "classification":
        _check_label_set(project, rows, labels)
    for row in rows:
        reason = _skip_reason(row, task)
        if reason is not None:
            tally[reason] += row.split == "train"
            continue
        raw_used += row.anon is None
        example = _example(row, task, labels, hard_labels)
        if example.token_logprobs and not usable_logprobs(example.token_logprobs):
            tally["invalid_token_logprobs"] += row.split == "train"
            example = dataclasses.replace(example, token_logprobs=None)
        unlabelled = task == "classification" and example.hard_label == IGNORE_INDEX
        if row.split == "train" and alpha == 0 and unlabelled:
            tally["no_hard_label"] += 1  # with alpha = 0 it has nothing to teach
            continue
        splits[row.split].append(example)
    _refuse_broken_teacher(project, rows, tally["invalid_soft_label"])
    return _finish(project, teacher, splits, tally, raw_used, seed)


def is_distribution(values: tuple[float, ...] | None) -> bool:
    """Finite, non-negative values that sum to 1 (within the rounding of stored floats)."""
    if not values or not all(math.isfinite(p) and p >= 0 for p in values):
        return False
    return abs(math.fsum(values) - 1.0) <= _SUM_TOLERANCE


def usable_logprobs(entries: list[dict[str, Any]]) -> bool:
    """Every stored log-probability is a number that is not NaN, not +inf and not above 0
    (-inf, a token the teacher gave no mass, is allowed)."""
    for entry in entries:
        if not isinstance(entry, dict):
            return False
        values = [entry.get("logprob"), *(entry.get("top") or {}).values()]
        for value in values:
            if not isinstance(value, int | float) or math.isnan(value) or value > _MAX_LOGPROB:
                return False
    return True


def _vector(raw: str | None) -> tuple[float, ...] | None:
    """A stored probability vector, or None if it is not a list of numbers."""
    try:
        values = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        return None
    return tuple(float(v) for v in values)


def _refuse_broken_teacher(project: Project, rows: list[TrainingRow], invalid: int) -> None:
    taught = sum(1 for r in rows if r.split == "train" and r.output_id is not None)
    if invalid and invalid > _MAX_INVALID_SHARE * taught:
        raise TrainError(
            f"{invalid:,} of the teacher's {taught:,} outputs for the train split are not "
            "probability distributions (NaN or infinite, negative, or not summing to 1)",
            "the teacher or its server returned broken probabilities: fix it, then run "
            f"`stillroom teach {project.path} ...` again before training",
        )


def _skip_reason(row: TrainingRow, task: str) -> str | None:
    if row.output_id is None:
        return "no_teacher_output"
    if not row.valid or (task == "generation" and row.teacher_text is None):
        return "invalid_teacher_output"
    if task == "classification" and row.probabilities is None:
        return "invalid_teacher_output"
    if task == "classification" and not is_distribution(_vector(row.probabilities)):
        return "invalid_soft_label"
    if row.anon is None and row.raw is None:
        return "not_anonymized"
    return None


def _example(row: TrainingRow, task: str, labels: tuple[str, ...], hard: str) -> Example:
    text = row.anon if row.anon is not None else str(row.raw)
    if task == "generation":
        logprobs = json.loads(row.token_logprobs) if row.token_logprobs else None
        return Example(row.id, text, teacher_text=row.teacher_text, token_logprobs=logprobs)
    index = {label: i for i, label in enumerate(labels)}
    human = IGNORE_INDEX if row.human is None else index.get(row.human, IGNORE_INDEX)
    by_teacher = index.get(row.teacher_label or "", IGNORE_INDEX)
    return Example(
        record_id=row.id,
        text=text,
        probabilities=_vector(row.probabilities),
        hard_label=human if hard == "human" else by_teacher,
        # Validation is scored against people where they labelled, else the teacher.
        eval_label=human if human != IGNORE_INDEX else by_teacher,
    )


def _check_label_set(project: Project, rows: list[TrainingRow], labels: tuple[str, ...]) -> None:
    """Refuse outputs taught under another label set: their vectors would be misread."""
    valid = [r for r in rows if r.output_id is not None and r.valid
             and is_distribution(_vector(r.probabilities))]  # fmt: skip
    hint = f"re-run `stillroom teach {project.path} ...` so the teacher uses the current labels"
    mismatched = 0
    for row in valid:
        vector = json.loads(row.probabilities or "[]")
        if len(vector) != len(labels) or row.teacher_label not in labels:
            raise TrainError(
                f"the label set changed since teaching: the teacher's outputs have "
                f"{len(vector)} classes, the project now has {len(labels)} "
                f"({', '.join(labels)})",
                hint,
            )
        mismatched += vector[labels.index(row.teacher_label)] < max(vector) - 1e-6
    if valid and mismatched / len(valid) > _REORDERED_SHARE:
        raise TrainError(
            f"the label set changed since teaching: for {mismatched:,} of {len(valid):,} "
            "outputs the stored label is not the most probable one in the current label order",
            hint,
        )


def _finish(
    project: Project,
    teacher: tuple[str, str],
    splits: dict[str, list[Example]],
    tally: dict[str, int],
    raw_used: int,
    seed: int,
) -> TrainingData:
    train, validation = splits["train"], splits["validation"]
    notes = _skip_notes(project, tally, len(train))
    if not train:
        raise TrainError(
            "no training example is left: " + ("; ".join(notes) or "the train split is empty"),
            f"check `stillroom status {project.path}`; import data or run the teacher first",
        )
    held_out = 0
    if not validation:
        if len(train) < 10:
            raise TrainError(
                f"the validation split is empty and only {len(train)} training examples remain",
                "import more data, or re-import with a validation share (--split 0.8,0.1,0.1)",
            )
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        held_out = max(1, int(len(train) * _HELD_OUT_SHARE))
        picked = set(order[:held_out])
        validation = [e for i, e in enumerate(train) if i in picked]
        train = [e for i, e in enumerate(train) if i not in picked]
        notes.append(
            f"the validation split is empty: held out {held_out:,} training examples (10%, "
            f"seed {seed}) to validate on; re-import with --split to have a real one"
        )
    return TrainingData(teacher[0], teacher[1], train, validation,
                        {k: v for k, v in tally.items() if v}, tuple(notes), raw_used,
                        held_out)  # fmt: skip


def _skip_notes(project: Project, tally: dict[str, int], kept: int) -> list[str]:
    notes = []
    missing = tally["no_teacher_output"] + tally["invalid_teacher_output"]
    if missing:
        notes.append(
            f"{missing:,} training records have no usable teacher output "
            f"({tally['no_teacher_output']:,} missing, {tally['invalid_teacher_output']:,} "
            f"invalid); trained on the other {kept:,} — run `stillroom teach` again to fill them"
        )
    if tally["invalid_soft_label"]:
        notes.append(
            f"{tally['invalid_soft_label']:,} training records have teacher probabilities that "
            "are not a probability distribution (NaN or infinite, negative, or not summing to "
            "1) and were left out; check the teacher, then run `stillroom teach` again"
        )
    if tally["invalid_token_logprobs"]:
        notes.append(
            f"{tally['invalid_token_logprobs']:,} training records have teacher "
            "log-probabilities that are NaN or above 0: they were learnt from the teacher's "
            "text only (no token-level KL)"
        )
    if tally["not_anonymized"]:
        notes.append(
            f"{tally['not_anonymized']:,} training records are not anonymized and were left "
            f"out; run `stillroom anonymize {project.path}` (or pass --allow-raw-text, audited)"
        )
    if tally["no_hard_label"]:
        notes.append(
            f"{tally['no_hard_label']:,} training records have no human label; with --alpha 0 "
            "they have nothing to teach and were left out"
        )
    return notes
