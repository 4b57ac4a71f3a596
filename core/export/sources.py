"""What the export reads from the project: the student, its evaluation and verdict, its
calibration, the test inputs for the parity check, the probe inputs, and the lineage.

Probe inputs are always anonymized text (the ``anonymized`` table), never ``records.text``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.configs import to_json
from core.errors import ExportError, ExportRefusedError
from core.evaluate.calibration import CALIBRATION_FILE
from core.evaluate.config import EvaluateResult
from core.evaluate.inputs import TEXT_SQL, StudentSource, read_json
from core.jobs.registry import ANONYMIZE, EVALUATE
from core.jobs.runs import latest, run_config
from core.project import Project

_WINDOWS = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The newest finished evaluation of the student being exported (None: there is none),
    with its figures from the ``metrics`` table for the manifest."""

    result: EvaluateResult | None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def run_id(self) -> str | None:
        return None if self.result is None else self.result.run_id

    @property
    def verdict(self) -> str:
        """``passed``, ``failed`` or ``none`` (not evaluated)."""
        if self.result is None:
            return "none"
        return "passed" if self.result.passed else "failed"


@dataclass(frozen=True, slots=True)
class TestInputs:
    """The test split's texts (as the student was trained on them) and reference labels."""

    texts: list[str]
    reference: list[str | None]
    reference_kind: str  # human | teacher | none


def latest_evaluation(project: Project, student_dir: Path) -> Evaluation:
    """The newest succeeded evaluate run of ``student_dir`` and its verdict and metrics."""
    wanted = student_dir.resolve()
    found = latest(project, EVALUATE, where=lambda r: r.student_dir.resolve() == wanted)
    if found is None:
        return Evaluation(None)
    metrics: dict[str, dict[str, float]] = {}
    for row in project.store.query(
        "SELECT split, name, value FROM metrics WHERE run_id = ? ORDER BY id", (found.run.id,)
    ):
        metrics.setdefault(row["split"] or "all", {})[row["name"]] = float(row["value"])
    return Evaluation(found.result, metrics)


def check_gate(
    project: Project, evaluation: Evaluation, reason: str | None, run: str | None
) -> bool:
    """Refuse a student without a passing evaluation unless overridden (audited).

    Returns:
        True when the gate was overridden.

    Raises:
        ExportRefusedError: the evaluation failed or is missing, and there is no reason.
    """
    if evaluation.verdict == "passed":
        return False
    if reason is None:
        what = (
            "the student has not been evaluated"
            if evaluation.verdict == "none"
            else f"the student FAILED the quality floor (evaluate run {evaluation.run_id})"
        )
        raise ExportRefusedError(
            f"{what}; refusing to export it",
            f"run `stillroom evaluate {project.path}` and fix what it reports, or pass "
            '--override-floor "why it may ship anyway" (audited)',
        )
    project.audit(
        "export.override_floor",
        {
            "run": run,
            "evaluate_run": evaluation.run_id,
            "verdict": evaluation.verdict,
            "reason": reason,
        },
    )
    return True


def calibration(student_dir: Path, evaluation: Evaluation) -> tuple[float, str]:
    """The fitted temperature and where it came from (1.0 when none was fitted)."""
    result = evaluation.result
    named = None if result is None else result.calibration_file
    for path in (student_dir / CALIBRATION_FILE, named):
        if path is not None and path.is_file():
            value = read_json(path, ExportError).get("temperature")
            if isinstance(value, int | float) and value > 0:
                return float(value), CALIBRATION_FILE
    if result is not None and result.temperature is not None and result.temperature > 0:
        return result.temperature, f"evaluate run {result.run_id}"
    return 1.0, "default: no temperature was fitted (run `stillroom evaluate`)"


def test_inputs(
    project: Project, student: StudentSource, limit: int | None, teacher_id: str | None
) -> TestInputs:
    """The test split as the student reads it, with human (else teacher) labels."""
    text, join = TEXT_SQL.get(student.text_source, TEXT_SQL["anonymized"])
    rows = project.store.conn.execute(
        f"SELECT r.label, {text}, t.label FROM records r {join} "
        "LEFT JOIN teacher_outputs t ON t.record_id = r.id AND t.teacher_id = ? AND t.valid = 1 "
        "WHERE r.split = 'test' GROUP BY r.id ORDER BY r.id"
        + ("" if limit is None else f" LIMIT {int(limit)}"),
        (teacher_id,),
    ).fetchall()
    texts = [str(row[1]) for row in rows]
    if any(row[0] is not None for row in rows):
        return TestInputs(texts, [row[0] for row in rows], "human")
    if any(row[2] is not None for row in rows):
        return TestInputs(texts, [row[2] for row in rows], "teacher")
    return TestInputs(texts, [None] * len(rows), "none")


def probe_texts(project: Project, count: int, labels: tuple[str, ...]) -> list[str]:
    """Up to ``count`` anonymized test texts, spread over the labels, never a raw text.

    A text identical to some record's raw text is skipped: it would put the original
    wording into a file that leaves the project.
    """
    if count <= 0:
        return []
    rows = project.store.conn.execute(
        "SELECT r.label, a.text FROM records r JOIN anonymized a ON a.record_id = r.id "
        "WHERE r.split = 'test' AND a.text <> r.text ORDER BY r.id LIMIT ?",
        (count * 20,),
    ).fetchall()
    by_label: dict[str | None, list[str]] = {}
    for label, text in rows:
        by_label.setdefault(label if label in labels else None, []).append(str(text))
    picked: list[str] = []
    while len(picked) < count and any(by_label.values()):
        for texts in by_label.values():
            if texts and len(picked) < count:
                candidate = texts.pop(0)
                if not _is_raw_text(project, candidate):
                    picked.append(candidate)
    return picked


def _is_raw_text(project: Project, text: str) -> bool:
    return project.store.scalar("SELECT 1 FROM records WHERE text = ? LIMIT 1", (text,)) is not None


def lineage_summary(project: Project, student: StudentSource) -> dict[str, Any]:
    """The lineage a model-risk reviewer needs; counts, hashes, ids and settings only.

    Local paths go relative: to the project where they are inside it, else the folder's
    name (a path on the exporting machine means nothing where the bundle is read, and may
    name a person's home folder).
    """
    lineage = _portable(_without_templates(student.lineage), project.path)
    datasets = project.store.query(
        "SELECT id, name, source_sha256 AS sha256, row_count AS rows FROM datasets ORDER BY id"
    )
    return {
        "source_data": datasets,
        "anonymization": anonymization_summary(project),
        "teacher": lineage.get("teacher") or {},
        "student": lineage.get("student") or {"base": student.model_dir.name},
        "training": lineage.get("training") or {},
        "training_data": lineage.get("data") or {},
        "train_run": student.train_run.id if student.train_run else lineage.get("run_id"),
        "training_versions": lineage.get("versions") or {},
        "text_source": student.text_source,
    }


def _portable(value: Any, root: Path) -> Any:
    if isinstance(value, dict):
        return {key: _portable(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [_portable(item, root) for item in value]
    if isinstance(value, str) and (value.startswith(("/", "~")) or _WINDOWS.match(value)):
        path = Path(value).expanduser()
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    return value


def _without_templates(value: Any) -> Any:
    """Prompt templates are user-written and may quote records: keep their hash only."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "prompt_template" and isinstance(item, str):
                out["prompt_template_sha256"] = hashlib.sha256(item.encode()).hexdigest()
            else:
                out[key] = _without_templates(item)
        return out
    if isinstance(value, list):
        return [_without_templates(item) for item in value]
    return value


def anonymization_summary(project: Project) -> dict[str, Any]:
    """Which anonymization settings produced the text, with counts of what was replaced."""
    hashes = {
        str(row["config_hash"]): int(row["n"])
        for row in project.store.query(
            "SELECT config_hash, COUNT(*) AS n FROM anonymized GROUP BY config_hash"
        )
    }
    starts = project.store.query(
        "SELECT details FROM audit WHERE action = 'anonymize.start' ORDER BY id"
    )
    settings = {}
    for row in starts:
        details = json.loads(row["details"])
        if details.get("config_hash") in hashes:
            settings[details["config_hash"]] = details
    anonymized = latest(project, ANONYMIZE)
    entities: dict[str, int] = {}
    for (counts,) in project.store.conn.execute("SELECT entity_counts FROM anonymized"):
        for entity, n in json.loads(counts or "{}").items():
            entities[entity] = entities.get(entity, 0) + int(n)
    total = int(project.store.scalar("SELECT COUNT(*) FROM records") or 0)
    return {
        "config_hashes": hashes,
        "settings": list(settings.values()),
        "latest_run_config": None
        if anonymized is None
        else to_json(run_config(project, ANONYMIZE, anonymized.run), project.path),
        "entities_replaced": dict(sorted(entities.items())),
        "records": total,
        "records_anonymized": sum(hashes.values()),
    }
