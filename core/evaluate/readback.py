"""The last finished evaluation, read back from the store and the run folder.

What the desktop's evaluate page shows, without scoring anything again: the stored result
(verdict, headline rows, failures), the ``metrics`` table (per-class figures, confusion
counts, speed) and ``reliability.json``. The floor checks are rebuilt from the stored
figures with the same :func:`core.evaluate.gate.judge` the stage used, so the sentences are
the stage's own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.evaluate import gate
from core.evaluate.config import HeadlineRow
from core.evaluate.figures import ReliabilityCurve, read_reliability
from core.jobs.runs import RunRecord, list_runs
from core.project import Project, QualityFloor

Figures = Mapping[str, float]
_HEADLINE_FIELDS = tuple(f.name for f in dataclasses.fields(HeadlineRow))


@dataclass(frozen=True, slots=True)
class ClassFigures:
    """One label's precision, recall and F1 for the student and the teacher (None: absent)."""

    label: str
    support: int | None
    student: tuple[float, float, float] | None
    teacher: tuple[float, float, float] | None


@dataclass(frozen=True, slots=True)
class SetView:
    """One evaluated set: its verdict, every model's headline row, per-class figures."""

    split: str
    rows: int | None
    passed: bool | None
    checks: tuple[gate.Check, ...]
    models: tuple[HeadlineRow, ...]
    classes: tuple[ClassFigures, ...]
    confusion: (
        tuple[tuple[int, ...], ...] | None
    )  # the student's: reference rows, predicted columns

    def model(self, name: str) -> HeadlineRow | None:
        """The headline row of one model column, if it was scored on this set."""
        return next((row for row in self.models if row.model == name), None)


@dataclass(frozen=True, slots=True)
class SpeedRow:
    """One model's CPU speed, size and cost (None: not measured or not applicable)."""

    model: str
    title: str
    p50_ms: float | None
    p95_ms: float | None
    throughput_per_s: float | None
    threads: int | None
    size_mb: float | None
    cost_per_million: float | None


@dataclass(frozen=True, slots=True)
class EvaluationView:
    """The newest succeeded evaluate run, ready to show; numbers, names and paths only."""

    run_id: str
    finished: str | None
    passed: bool
    strict_edge: bool
    reason: str
    failures: tuple[str, ...]
    task: str
    primary_metric: str
    reference: str
    labels: tuple[str, ...]
    floor: QualityFloor
    temperature: float | None
    sets: tuple[SetView, ...]
    speed: tuple[SpeedRow, ...]
    reliability: tuple[ReliabilityCurve, ...]
    cost: Mapping[str, float]
    payback_days: int
    report_html: Path | None
    notes: tuple[str, ...]

    def set(self, split: str) -> SetView | None:
        """The view of ``test`` or ``edge``, if that set was evaluated."""
        return next((s for s in self.sets if s.split == split), None)


def last_evaluation(project: Project) -> EvaluationView | None:
    """The newest succeeded evaluate run of the project, or None when there is none."""
    done = [r for r in list_runs(project, "evaluate") if r.status == "succeeded" and r.result]
    return evaluation_view(project, done[-1]) if done else None


def evaluation_view(project: Project, run: RunRecord) -> EvaluationView:
    """One succeeded evaluate run as an :class:`EvaluationView`."""
    result: dict[str, Any] = run.result or {}
    metrics = _metrics(project, run.id)
    settings = project.settings
    primary = str(result.get("primary_metric") or "macro_f1")
    headline = [_headline(row) for row in result.get("headline") or []]
    sets = tuple(
        _set_view(split, metrics.get(split, {}), headline, settings.labels, settings.floor, primary)
        for split in ("test", "edge")
        if any(row.split == split for row in headline)
    )
    report = result.get("report_html")
    return EvaluationView(
        run_id=run.id,
        finished=run.finished,
        passed=bool(result.get("passed")),
        strict_edge=bool(run.config.get("strict_edge", False)),
        reason=_reason(result, sets),
        failures=tuple(str(f) for f in result.get("failures") or []),
        task=str(result.get("task") or settings.task),
        primary_metric=primary,
        reference=str(result.get("reference") or ""),
        labels=settings.labels,
        floor=settings.floor,
        temperature=_number(result.get("temperature")),
        sets=sets,
        speed=_speed(headline, metrics.get("", {})),
        reliability=tuple(read_reliability(project.run_dir(run.id))),
        cost={k: v for k, v in metrics.get("", {}).items() if k in _COST_NAMES},
        payback_days=int(run.config.get("payback_days") or 30),
        report_html=Path(report) if isinstance(report, str) and Path(report).is_file() else None,
        notes=tuple(str(n) for n in result.get("notes") or []),
    )


_COST_NAMES = ("hardware_cost_per_hour", "one_off_cost", "breakeven_requests_per_day")


def _metrics(project: Project, run_id: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in project.store.query(
        "SELECT split, name, value FROM metrics WHERE run_id = ? ORDER BY id", (run_id,)
    ):
        out.setdefault(str(row["split"] or ""), {})[str(row["name"])] = float(row["value"])
    return out


def _headline(row: dict[str, Any]) -> HeadlineRow:
    values: dict[str, Any] = {name: row.get(name) for name in _HEADLINE_FIELDS}
    values["split"] = str(values["split"] or "")
    values["model"] = str(values["model"] or "")
    values["title"] = str(values["title"] or values["model"])
    return HeadlineRow(**values)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _set_view(
    split: str,
    figures: Figures,
    headline: list[HeadlineRow],
    labels: tuple[str, ...],
    floor: QualityFloor,
    primary: str,
) -> SetView:
    ece = figures.get("student.ece_calibrated", figures.get("student.ece"))
    verdict = gate.judge(
        split,
        floor,
        retention=figures.get("student.retention"),
        metric=figures.get(f"student.{primary}"),
        ece=ece,
    )
    stored = figures.get("gate.passed")
    rows = figures.get("set.rows")
    return SetView(
        split=split,
        rows=None if rows is None else int(rows),
        passed=verdict.passed if stored is None else bool(stored),
        checks=verdict.checks,
        models=tuple(row for row in headline if row.split == split),
        classes=tuple(_class_figures(label, figures) for label in labels)
        if labels and f"student.f1.{labels[0]}" in figures
        else (),
        confusion=_confusion(figures, labels),
    )


def _triple(figures: Figures, model: str, label: str) -> tuple[float, float, float] | None:
    keys = [f"{model}.{name}.{label}" for name in ("precision", "recall", "f1")]
    if not all(key in figures for key in keys):
        return None
    p, r, f = (figures[key] for key in keys)
    return p, r, f


def _class_figures(label: str, figures: Figures) -> ClassFigures:
    support = figures.get(f"student.support.{label}")
    return ClassFigures(
        label=label,
        support=None if support is None else int(support),
        student=_triple(figures, "student", label),
        teacher=_triple(figures, "teacher", label),
    )


def _confusion(figures: Figures, labels: tuple[str, ...]) -> tuple[tuple[int, ...], ...] | None:
    # Built from the known label names, never by splitting metric names: a label may hold dots.
    keys = [[f"student.confusion.{ref}.{pred}" for pred in labels] for ref in labels]
    if not labels or not all(key in figures for row in keys for key in row):
        return None
    return tuple(tuple(int(figures[key]) for key in row) for row in keys)


def _speed(headline: list[HeadlineRow], figures: Figures) -> tuple[SpeedRow, ...]:
    seen: dict[str, HeadlineRow] = {}
    for row in headline:  # the test set's row first: speed and size are per model, not per set
        if row.model not in seen or row.split == "test":
            seen[row.model] = row
    out = []
    for name, row in seen.items():
        threads = figures.get(f"{name}.threads.cpu")
        speed = SpeedRow(
            model=name,
            title=row.title,
            p50_ms=row.p50_ms,
            p95_ms=figures.get(f"{name}.latency_p95_ms.cpu"),
            throughput_per_s=row.throughput_per_s,
            threads=None if threads is None else int(threads),
            size_mb=row.size_mb,
            cost_per_million=row.cost_per_million,
        )
        if any(v is not None for v in (speed.p50_ms, speed.size_mb, speed.cost_per_million)):
            out.append(speed)
    return tuple(out)


def _reason(result: dict[str, Any], sets: tuple[SetView, ...]) -> str:
    """One sentence: the failed bounds when it fails, the checked bounds when it passes."""
    failures = [str(f) for f in result.get("failures") or []]
    if not result.get("passed"):
        return "; ".join(failures) or "the student does not meet the quality floor"
    test = next((s for s in sets if s.split == "test"), None)
    text = "; ".join(c.describe() for c in test.checks) if test else "the test set passes"
    edge = [f.removeprefix("edge: ") for f in failures if f.startswith("edge:")]
    if edge:
        text += " — but the edge-case set fails (" + "; ".join(edge) + ")"
    return text
