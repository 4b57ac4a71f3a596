"""Flattening an evaluation into the headline rows and the ``metrics`` table's rows.

Metric names are ``<model>.<metric>`` (``student.macro_f1``, ``teacher_int8.retention``),
``<model>.human.<metric>`` against the human labels, per-class and confusion figures as
``student.f1.<label>`` and ``student.confusion.<reference>.<predicted>``, 95% intervals as
``<model>.<metric>.low`` / ``.high``, per-class retention as ``<model>.retention.<label>``;
speed and cost sit under the split ``''`` with the device in the name
(``student.latency_p50_ms.cpu``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from core.evaluate.compare import ModelResult, Scores, SetResult
from core.evaluate.config import (
    TEACHER,
    ClassFigures,
    CostEstimate,
    HeadlineRow,
    SetSummary,
    SpeedRow,
)
from core.evaluate.cost import per_million
from core.evaluate.gate import SetVerdict
from core.evaluate.latency import Latency
from core.evaluate.metrics import ClassificationScores
from core.evaluate.scoring import Scored

MetricRow = tuple[str, str, float]  # split, name, value


def _cpu(latencies: Sequence[Latency], model: str) -> Latency | None:
    return next((x for x in latencies if x.model == model and x.device == "cpu"), None)


def headline(scored: Scored, cost: CostEstimate | None) -> list[HeadlineRow]:
    """Every model on every set, with its speed, size and cost."""
    rows = []
    for split, result in scored.sets.items():
        for name, model in result.models.items():
            speed = _cpu(scored.latencies, name)
            row = model_row(split, scored.titles.get(name, name), model)
            rows.append(
                replace(
                    row,
                    p50_ms=None if speed is None else speed.p50_ms,
                    throughput_per_s=None if speed is None else speed.throughput_per_s,
                    size_mb=scored.sizes_mb.get(name),
                    cost_per_million=_cost(name, cost, speed),
                )
            )
    return rows


def model_row(split: str, title: str, model: ModelResult) -> HeadlineRow:
    """One model's quality figures on one set, with their intervals (no speed or cost)."""
    calibrated = model.reliability_calibrated
    return HeadlineRow(
        split=split,
        model=model.model,
        title=title,
        metric=model.primary,
        retention=model.retention,
        agreement=model.agreement,
        ece=None if model.reliability is None else model.reliability.ece,
        ece_calibrated=None if calibrated is None else calibrated.ece,
        p50_ms=None,
        throughput_per_s=None,
        size_mb=None,
        cost_per_million=None,
        metric_ci=model.intervals.get("metric"),
        retention_ci=model.intervals.get("retention"),
        agreement_ci=model.intervals.get("agreement"),
        ece_ci=model.intervals.get("ECE"),
        rows=model.scores.n,
    )


def set_summaries(
    scored: Scored, verdicts: dict[str, SetVerdict], labels: Sequence[str], judged: str
) -> tuple[SetSummary, ...]:
    """Each evaluated set's verdict with the judged model's per-class figures, per-class
    retention (the worst class named) and confusion."""
    return tuple(
        _set_summary(scored.sets[split], verdict, labels, judged)
        for split, verdict in verdicts.items()
    )


def _set_summary(
    result: SetResult, verdict: SetVerdict, labels: Sequence[str], judged: str
) -> SetSummary:
    student = result.models[judged].scores
    teacher = result.models.get(TEACHER)
    if not isinstance(student, ClassificationScores):
        return SetSummary(result.split, result.rows, result.compared, verdict)
    base = teacher.scores if teacher is not None else None
    classes = tuple(
        ClassFigures(
            label=label,
            support=int(student.support[i]),
            student=_triple(student, i),
            teacher=None if base is None else _triple(base, i),
            retention=_class_retention(student, base, i),
        )
        for i, label in enumerate(labels)
    )
    kept = [c for c in classes if c.retention is not None]
    worst = min(kept, key=lambda c: c.retention or 0.0).label if kept else None
    confusion = tuple(tuple(int(n) for n in row) for row in student.confusion)
    return SetSummary(
        result.split, result.rows, result.compared, verdict, classes, confusion, worst
    )


def _class_retention(student: ClassificationScores, teacher: Scores | None, i: int) -> float | None:
    """The model's F1 on one label over the teacher's (None: the teacher scores 0 there)."""
    if not isinstance(teacher, ClassificationScores) or teacher.f1[i] <= 0:
        return None
    return float(student.f1[i] / teacher.f1[i])


def _triple(scores: Scores, i: int) -> tuple[float, float, float] | None:
    if not isinstance(scores, ClassificationScores):
        return None
    return float(scores.precision[i]), float(scores.recall[i]), float(scores.f1[i])


def speed_rows(scored: Scored, rows: Sequence[HeadlineRow]) -> tuple[SpeedRow, ...]:
    """Each model's CPU speed, size and cost (speed and size are per model, not per set:
    the test set's headline row is taken where a model has one)."""
    seen: dict[str, HeadlineRow] = {}
    for row in rows:
        if row.model not in seen or row.split == "test":
            seen[row.model] = row
    out = []
    for name, row in seen.items():
        speed = _cpu(scored.latencies, name)
        measured = SpeedRow(
            model=name,
            title=row.title,
            p50_ms=row.p50_ms,
            p95_ms=None if speed is None else speed.p95_ms,
            throughput_per_s=row.throughput_per_s,
            threads=None if speed is None else speed.threads,
            size_mb=row.size_mb,
            cost_per_million=row.cost_per_million,
        )
        if any(v is not None for v in (row.p50_ms, row.size_mb, row.cost_per_million)):
            out.append(measured)
    return tuple(out)


def _cost(model: str, cost: CostEstimate | None, speed: Latency | None) -> float | None:
    if cost is None:
        return None
    if model == TEACHER:
        return cost.teacher_per_million
    if speed is None or cost.hardware_cost_per_hour is None:
        return None
    return per_million(cost.hardware_cost_per_hour, speed.throughput_per_s)


def _score_rows(prefix: str, scores: Scores, labels: Sequence[str]) -> Iterator[tuple[str, float]]:
    yield f"{prefix}.n", float(scores.n)
    if not isinstance(scores, ClassificationScores):
        yield f"{prefix}.rouge_l", scores.rouge_l
        yield f"{prefix}.exact_match", scores.exact_match
        yield f"{prefix}.length_ratio", scores.length_ratio
        return
    yield f"{prefix}.accuracy", scores.accuracy
    yield f"{prefix}.macro_f1", scores.macro_f1
    yield f"{prefix}.invalid", float(scores.invalid)


def _per_class_rows(
    prefix: str, scores: Scores, labels: Sequence[str]
) -> Iterator[tuple[str, float]]:
    if not isinstance(scores, ClassificationScores):
        return
    for i, label in enumerate(labels):
        yield f"{prefix}.precision.{label}", float(scores.precision[i])
        yield f"{prefix}.recall.{label}", float(scores.recall[i])
        yield f"{prefix}.f1.{label}", float(scores.f1[i])
        yield f"{prefix}.support.{label}", float(scores.support[i])
        for j, predicted in enumerate(labels):
            yield f"{prefix}.confusion.{label}.{predicted}", float(scores.confusion[i, j])


def _interval_rows(model: ModelResult, primary: str) -> Iterator[tuple[str, float]]:
    names = {"metric": primary, "retention": "retention", "agreement": "agreement", "ECE": "ece"}
    for key, interval in model.intervals.items():
        if interval is not None:
            yield f"{model.model}.{names[key]}.low", interval.low
            yield f"{model.model}.{names[key]}.high", interval.high


def _model_rows(
    model: ModelResult, labels: Sequence[str], teacher: ModelResult | None
) -> Iterator[tuple[str, float]]:
    name = model.model
    yield from _score_rows(name, model.scores, labels)
    yield from _per_class_rows(name, model.scores, labels)
    primary = "macro_f1" if isinstance(model.scores, ClassificationScores) else "rouge_l"
    yield from _interval_rows(model, primary)
    if isinstance(model.scores, ClassificationScores) and teacher is not None and name != TEACHER:
        for i, label in enumerate(labels):
            kept = _class_retention(model.scores, teacher.scores, i)
            if kept is not None:
                yield f"{name}.retention.{label}", kept
    if model.human is not None:
        yield from _score_rows(f"{name}.human", model.human, labels)
    optional = {
        "retention": model.retention,
        "agreement": model.agreement,
        "ece": model.reliability.ece if model.reliability else None,
        "ece_calibrated": (
            model.reliability_calibrated.ece if model.reliability_calibrated else None
        ),
    }
    for key, value in optional.items():
        if value is not None:
            yield f"{name}.{key}", float(value)


def metric_rows(
    scored: Scored,
    verdicts: dict[str, SetVerdict],
    cost: CostEstimate | None,
    labels: Sequence[str],
    passed: bool,
) -> list[MetricRow]:
    """Every figure of the report as (split, name, value)."""
    rows: list[MetricRow] = []
    for split, result in scored.sets.items():
        rows += [
            (split, "set.rows", float(result.rows)),
            (split, "set.compared", float(result.compared)),
        ]
        teacher = result.models.get(TEACHER)
        for model in result.models.values():
            rows += [(split, n, v) for n, v in _model_rows(model, labels, teacher)]
    for split, verdict in verdicts.items():
        rows.append((split, "gate.passed", float(verdict.passed)))
    for name, fit in (("student", scored.fit), ("teacher_int8", scored.baseline_fit)):
        if fit is not None:
            rows += [
                ("validation", f"{name}.temperature", fit.temperature),
                ("validation", f"{name}.nll", fit.nll_before),
                ("validation", f"{name}.nll_calibrated", fit.nll_after),
                ("validation", f"{name}.n", float(fit.n)),
            ]
    rows += list(_speed_rows(scored))
    rows += list(_cost_rows(cost))
    rows.append(("", "gate.passed", float(passed)))
    return rows


def _speed_rows(scored: Scored) -> Iterator[MetricRow]:
    for name, size in scored.sizes_mb.items():
        yield "", f"{name}.size_mb", size
    for x in scored.latencies:
        yield "", f"{x.model}.latency_p50_ms.{x.device}", x.p50_ms
        yield "", f"{x.model}.latency_p95_ms.{x.device}", x.p95_ms
        yield "", f"{x.model}.throughput_per_s.{x.device}", x.throughput_per_s
        yield "", f"{x.model}.threads.{x.device}", float(x.threads)


def _cost_rows(cost: CostEstimate | None) -> Iterator[MetricRow]:
    if cost is None:
        return
    figures = {
        "teacher.cost_per_million": cost.teacher_per_million,
        "student.cost_per_million": cost.student_per_million,
        "hardware_cost_per_hour": cost.hardware_cost_per_hour,
        "one_off_cost": cost.one_off_cost,
        "breakeven_requests_per_day": cost.breakeven_per_day,
    }
    for name, value in figures.items():
        if value is not None:
            yield "", name, float(value)
