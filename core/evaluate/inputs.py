"""What the evaluate stage reads: the student to score, the teacher it learnt from, and the
held-out sets with their human labels and stored teacher answers.

The student is scored on the text the teacher saw (the anonymized text), unless the train
run's lineage says it was trained on the raw text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import EvaluateError, UserError
from core.evaluate.metrics import FloatArray, IntArray
from core.jobs.registry import TRAIN
from core.jobs.runs import RunRecord, latest
from core.project import Project
from core.teacher.sources import teacher_kind_of
from core.train.lineage import LINEAGE_FILE

_RAW_MARKERS = {"raw", "records", "records.text", "original"}
# The text the student reads, by the lineage's text source: (column, join).
TEXT_SQL = {
    "anonymized": ("a.text", "JOIN anonymized a ON a.record_id = r.id"),
    "mixed": ("COALESCE(a.text, r.text)", "LEFT JOIN anonymized a ON a.record_id = r.id"),
    "raw": ("r.text", ""),
}


@dataclass(frozen=True, slots=True)
class StudentSource:
    """The model folder to score, the train run that made it (if known) and its lineage."""

    model_dir: Path
    train_run: RunRecord | None
    lineage: dict[str, Any]

    @property
    def text_source(self) -> str:
        """``anonymized`` (what the teacher saw); ``mixed`` when the lineage says training
        fell back to the raw text of records that had no anonymized form; ``raw`` when it
        says the student was trained on raw text throughout."""
        for key in ("text_source", "input_text"):
            value = self.lineage.get(key)
            if isinstance(value, str) and value.lower() in _RAW_MARKERS:
                return "raw"
        raw_used = lineage_value(self.lineage, "data", "raw_text_records")
        return "mixed" if isinstance(raw_used, int) and raw_used > 0 else "anonymized"

    @property
    def max_length(self) -> int:
        """The input length the student was trained with (truncation), else 512 tokens."""
        value = lineage_value(self.lineage, "training", "max_length")
        return value if isinstance(value, int) and value > 0 else 512

    def teacher_value(self, key: str) -> Any:
        """``teacher.<key>`` of the lineage (or a top-level ``<key>``), if recorded."""
        value = lineage_value(self.lineage, "teacher", key)
        return self.lineage.get(key) if value is None else value


def lineage_value(lineage: dict[str, Any], *path: str) -> Any:
    """The value at a nested ``path`` of a lineage dict, or None."""
    node: Any = lineage
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


@dataclass(frozen=True, slots=True)
class TeacherRef:
    """The teacher outputs to compare with, and the kind of teacher that made them."""

    teacher_id: str
    prompt_version: str
    kind: str | None = None


@dataclass
class EvalSet:
    """One split's rows, aligned: text, human label, the teacher's answer.

    ``human`` is -1 where a row has no human label in the label set. ``teacher`` is -1 where
    the teacher has no stored answer and ``len(labels)`` where it answered outside the set.
    """

    split: str
    texts: list[str]
    human: IntArray
    teacher: IntArray
    teacher_probs: FloatArray
    human_text: list[str | None] = field(default_factory=list)
    teacher_text: list[str | None] = field(default_factory=list)
    unknown_labels: int = 0
    without_text: int = 0

    def __len__(self) -> int:
        return len(self.texts)


def find_student(
    project: Project,
    student: Path | None,
    *,
    error: type[UserError] = EvaluateError,
    purpose: str = "evaluate",
) -> StudentSource:
    """The student folder: the one given, else the chosen train run's model (the newest
    succeeded one unless a person chose another: :mod:`core.train.chosen`).

    Evaluate and export both read the student here; each passes its own error class and
    what the student is wanted for (``evaluate``, ``export``) for the message.

    Raises:
        UserError: (``error``) nothing has been trained yet, the train run's model is gone,
            or the folder is not a model.
    """
    if student is not None:
        folder = Path(student).expanduser().resolve()
        found = latest(project, TRAIN, where=lambda r: r.model_dir.resolve() == folder)
    else:
        from core.train.chosen import chosen_student

        found = chosen_student(project)
        if found is None:
            raise error(
                f"there is no trained student to {purpose} yet",
                f"run `stillroom train {project.path} --student PATH` first, or pass --student DIR",
            )
        folder = found.result.model_dir
        if not folder.is_dir():
            raise error(
                f"the model of train run {found.run.id} is missing ({folder})",
                "re-run the train stage, or pass the model folder with --student DIR",
            )
    if not (folder / "config.json").is_file():
        raise error(
            f"{folder} is not a model folder (no config.json)",
            "pass the folder the train stage wrote (runs/<train run>/student) with --student",
        )
    train_run = None if found is None else found.run
    return StudentSource(folder, train_run, read_json(folder / LINEAGE_FILE, error))


def read_json(path: Path, error: type[UserError] = EvaluateError) -> dict[str, Any]:
    """A JSON object from a file (a model folder's lineage, its calibration), or ``{}`` when
    the file is missing or holds no object.

    Raises:
        UserError: (``error``) the file exists but cannot be read as JSON.
    """
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise error(
            f"{path} cannot be read as JSON", "restore it, or re-run the train stage"
        ) from exc
    return value if isinstance(value, dict) else {}


def check_label_set(student: StudentSource, labels: tuple[str, ...]) -> None:
    """Refuse a student whose lineage names another label set than the project's.

    Raises:
        EvaluateError: the lineage's labels differ from the project's.
    """
    named = student.lineage.get("labels")
    if isinstance(named, list) and named and sorted(map(str, named)) != sorted(labels):
        raise EvaluateError(
            f"the student was trained on the labels {', '.join(map(str, named))} but the "
            f"project's label set is {', '.join(labels)}",
            "evaluate a student trained in this project (or on this label set)",
        )


def resolve_teacher(
    project: Project, teacher_id: str | None, student: StudentSource
) -> TeacherRef | None:
    """The teacher to compare with: the one asked for, the student's own, or the latest.

    Returns:
        None when the project has no teacher outputs at all.

    Raises:
        EvaluateError: the teacher asked for has no stored outputs.
    """
    trained_on = student.teacher_value("teacher_id")
    wanted = teacher_id or trained_on
    if wanted:
        version = student.teacher_value("prompt_version") if wanted == trained_on else None
        row = project.store.query(
            "SELECT prompt_version FROM teacher_outputs WHERE teacher_id = ? "
            "AND (? IS NULL OR prompt_version = ?) ORDER BY created_at DESC, id DESC LIMIT 1",
            (wanted, version, version),
        )
        if row:
            return _teacher_ref(project, str(wanted), str(row[0]["prompt_version"]))
        if teacher_id:
            known = [
                r["teacher_id"]
                for r in project.store.query(
                    "SELECT DISTINCT teacher_id FROM teacher_outputs ORDER BY teacher_id"
                )
            ]
            raise EvaluateError(
                f"the teacher {teacher_id} has no stored outputs in this project",
                f"known teachers: {', '.join(known)}" if known else "run `stillroom teach` first",
            )
    newest = project.store.query(
        "SELECT teacher_id, prompt_version FROM teacher_outputs "
        "ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    if not newest:
        return None
    return _teacher_ref(project, str(newest[0]["teacher_id"]), str(newest[0]["prompt_version"]))


def _teacher_ref(project: Project, teacher_id: str, prompt_version: str) -> TeacherRef:
    return TeacherRef(teacher_id, prompt_version, teacher_kind_of(project, teacher_id))


def load_set(
    project: Project,
    split: str,
    labels: tuple[str, ...],
    teacher: TeacherRef | None,
    text_source: str,
) -> EvalSet:
    """One split's rows in record order, with the text the student was trained on."""
    text, join = TEXT_SQL.get(text_source, TEXT_SQL["anonymized"])
    rows = project.store.conn.execute(
        f"SELECT r.label, {text}, t.id, t.valid, t.label, t.probabilities, t.text "
        f"FROM records r {join} LEFT JOIN teacher_outputs t ON t.record_id = r.id "
        "AND t.teacher_id = ? AND t.prompt_version = ? WHERE r.split = ? ORDER BY r.id",
        (
            teacher.teacher_id if teacher else None,
            teacher.prompt_version if teacher else None,
            split,
        ),
    ).fetchall()
    human, answer, probs = _label_arrays(rows, labels)
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    unknown = sum(1 for row in rows if row[0] is not None and row[0] not in index)
    without = _without_text(project, split) if text_source == "anonymized" else 0
    return EvalSet(
        split=split,
        texts=[str(row[1]) for row in rows],
        human=human,
        teacher=answer,
        teacher_probs=probs,
        human_text=[row[0] for row in rows],
        teacher_text=[row[6] if row[2] is not None and row[3] else None for row in rows],
        unknown_labels=unknown if k else 0,
        without_text=without,
    )


def _label_arrays(
    rows: list[Any], labels: tuple[str, ...]
) -> tuple[IntArray, IntArray, FloatArray]:
    """Human label index, teacher answer index (k: invalid) and soft labels, per row."""
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    human = np.full(len(rows), -1, dtype=np.int64)
    answer = np.full(len(rows), -1, dtype=np.int64)
    probs = np.full((len(rows), max(k, 1)), np.nan)
    for i, (label, _, out_id, valid, t_label, t_probs, _) in enumerate(rows):
        human[i] = index.get(label, -1) if label is not None else -1
        if out_id is None:
            continue
        answer[i] = index.get(t_label, k) if valid else k
        vector = json.loads(t_probs) if t_probs and valid else None
        if isinstance(vector, list) and len(vector) == k:
            probs[i] = vector
    return human, answer, probs


def _without_text(project: Project, split: str) -> int:
    return int(
        project.store.scalar(
            "SELECT COUNT(*) FROM records r LEFT JOIN anonymized a ON a.record_id = r.id "
            "WHERE r.split = ? AND a.record_id IS NULL",
            (split,),
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class TeacherCost:
    """What the teacher's stored outputs cost, over every split (recorded at teach time)."""

    outputs: int
    total_cost: float
    mean_latency_ms: float | None


def teacher_cost(project: Project, teacher: TeacherRef) -> TeacherCost:
    """Totals over the teacher's stored outputs (every split: the cost was paid for all)."""
    row = project.store.query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost, "
        "AVG(CASE WHEN latency_ms > 0 THEN latency_ms END) AS ms FROM teacher_outputs "
        "WHERE teacher_id = ? AND prompt_version = ?",
        (teacher.teacher_id, teacher.prompt_version),
    )[0]
    ms = row["ms"]
    return TeacherCost(int(row["n"]), float(row["cost"]), None if ms is None else float(ms))


def auto_frontier(project: Project, train_run: RunRecord | None) -> tuple[str, Path] | None:
    """The ``--auto`` search a student came from and its frontier plot, if it has one.

    ``train_run`` is the auto run itself (the student it chose) or one of its trials
    (``parent_run`` in its config); None for a student trained on its own.
    """
    from core.train.frontier import FRONTIER_SVG

    if train_run is None:
        return None
    parent = train_run.config.get("parent_run")
    auto_run = parent if parent else train_run.id if train_run.config.get("auto") else None
    if not isinstance(auto_run, str):
        return None
    path = project.runs_dir / auto_run / FRONTIER_SVG
    return (auto_run, path) if path.is_file() else None
