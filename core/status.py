"""What ``stillroom status`` shows: a read of the whole store, and where each stage stands."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from core.data.split import SPLITS as _SPLITS
from core.jobs.registry import PIPELINE
from core.jobs.runs import list_runs
from core.project import Project
from core.stage_states import STATE_TEXT, stage_states
from core.store import audit, records

SPLITS = (*_SPLITS, "edge")
_DATASET_FIELDS = (
    "id", "name", "source_path", "source_sha256", "format", "encoding", "row_count",
    "rows_read", "duplicates_dropped", "conflicting_labels", "empty_dropped",
    "oversize_dropped", "imported_at",
)  # fmt: skip


def project_status(project: Project) -> dict[str, Any]:
    """Settings, stage states, datasets, splits, label distribution, runs and audit state,
    as plain data.

    Runs whose process died are marked ``interrupted`` first, so the answer is current.
    """
    states = stage_states(project)  # reconciles the runs first
    settings = project.settings
    store = project.store
    splits = records.split_counts(store)
    labels: dict[str, dict[str, int]] = {}
    if settings.task == "classification":
        for split, label, n in records.labels_by_split(store):
            if label is not None and split in SPLITS:
                labels.setdefault(split, {})[label] = n
    labels = {name: labels[name] for name in SPLITS if name in labels}
    verification = audit.verify(store)
    return {
        "project": str(project.path),
        "task": settings.task,
        "labels": list(settings.labels),
        "floor": asdict(settings.floor),
        "stages": {
            stage.key: {"title": stage.title, **asdict(states[stage.key])} for stage in PIPELINE
        },
        "datasets": [
            {name: getattr(row, name) for name in _DATASET_FIELDS}
            for row in records.datasets(store)
        ],
        "records": sum(splits.values()),
        "splits": {name: splits.get(name, 0) for name in SPLITS},
        "label_distribution": labels,
        "edge_reasons": dict(sorted(records.edge_reason_counts(store).items())),
        "runs": [
            {
                "id": r.id,
                "stage": r.stage,
                "status": r.status,
                "started": r.started,
                "finished": r.finished,
                "error": r.error_message,
            }
            for r in list_runs(project)
        ],
        "audit": {
            "rows": verification.rows_checked,
            "ok": verification.ok,
            "head": verification.head_hash,
            "first_broken_id": verification.first_broken_id,
        },
    }


def _labels(status: dict[str, Any]) -> str:
    if status["task"] == "generation":  # no label set: the answers are texts
        return ""
    return f"; labels: {', '.join(status['labels']) or '(none yet)'}"


def render_status(status: dict[str, Any]) -> list[str]:
    """The status as lines for a terminal."""
    floor = status["floor"]
    lines = [
        f"project {status['project']}",
        f"  task {status['task']}" + _labels(status),
        f"  quality floor: retention >= {floor['min_retention']:g}"
        + (f", metric >= {floor['min_metric']:g}" if floor["min_metric"] is not None else "")
        + (f", ECE <= {floor['max_ece']:g}" if floor["max_ece"] is not None else ""),
        "stages:",
        *(
            f"  {stage['title']:<10} {STATE_TEXT[stage['state']]}: {stage['reason']}"
            for stage in status["stages"].values()
        ),
        f"datasets: {len(status['datasets'])}",
    ]
    for ds in status["datasets"]:
        lines.append(
            f"  #{ds['id']} {ds['name']}: {ds['row_count']:,} records from "
            f"{ds['rows_read']:,} rows ({ds['format']}, {ds['encoding'] or 'binary'}; "
            f"{ds['duplicates_dropped']:,} duplicates, {ds['empty_dropped']:,} empty dropped)"
        )
    splits = status["splits"]
    lines.append(
        f"records: {status['records']:,} — "
        + ", ".join(f"{name} {count:,}" for name, count in splits.items())
    )
    for split, counts in status["label_distribution"].items():
        shown = ", ".join(f"{label} {n:,}" for label, n in counts.items())
        lines.append(f"  {split:<10} {shown}")
    if status["edge_reasons"]:
        reasons = ", ".join(f"{k} {v}" for k, v in status["edge_reasons"].items())
        lines.append(f"edge cases by reason: {reasons}")
    lines.append(f"runs: {len(status['runs'])}")
    for run in status["runs"][-10:]:
        error = f" — {run['error']}" if run["error"] else ""
        lines.append(f"  {run['id']}  {run['status']}{error}")
    state = (
        "intact"
        if status["audit"]["ok"]
        else (f"BROKEN at row {status['audit']['first_broken_id']}")
    )
    lines.append(f"audit: {status['audit']['rows']} rows, {state}, head {status['audit']['head']}")
    return lines
