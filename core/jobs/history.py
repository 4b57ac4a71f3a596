"""Run history and the comparison of two runs (issue 20): every stage keeps its runs; an
analyst who trained twice puts the two side by side.

A :class:`RunSummary` is one row of a stage's (or the project's) runs: status, when, how
long, who, the settings that differ from the defaults and the key figures (with their 95%
intervals where the stage measured them). :func:`compare_runs` lines two runs up: settings
that differ, every figure, the training curves, per-class scores and calibration (a train
run's from the evaluation of its student). Numbers and paths only, never record contents.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.configs import to_json
from core.evaluate.config import EvaluateResult
from core.jobs.registry import EVALUATE, TRAIN, Stage, stage
from core.jobs.runs import RunRecord, get_run, latest, list_runs, run_result
from core.project import Project
from core.train.config import TrainResult

Row = tuple[str, str, str]  # name, first run's value, second run's value
Series = tuple[tuple[int, float], ...]
_NONE = "\N{EN DASH}"  # a figure the run does not have


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run as the runs view lists it."""

    id: str
    stage: str
    status: str
    started: str | None
    seconds: float | None
    who: str
    settings: tuple[tuple[str, str], ...]  # (name, value) that differ from the defaults
    figures: tuple[tuple[str, str], ...]  # (name, value with interval) of the key figures
    chosen: bool = False  # the student that Evaluate and Export use

    @property
    def headline(self) -> str:
        """The key figures in one line."""
        return "; ".join(f"{name} {value}" for name, value in self.figures[:3])


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Two runs side by side: rows of (name, first, second), and curves per name."""

    first: RunSummary
    second: RunSummary
    settings: tuple[Row, ...]
    figures: tuple[Row, ...]
    per_class: tuple[Row, ...]
    calibration: tuple[Row, ...]
    curves: dict[str, tuple[Series, Series]]


def run_history(project: Project, stage_key: str | None = None) -> list[RunSummary]:
    """The runs of one stage (or of every stage), newest first.

    Raises:
        RunError: ``stage_key`` names no stage.
    """
    from core.train.chosen import chosen_student

    chosen = chosen_student(project)
    chosen_id = None if chosen is None else chosen.run.id
    who = _who(project)
    kinds = [stage(stage_key)] if stage_key else None
    runs = [r for r in list_runs(project, stage_key) if kinds or stage(r.stage).shown]
    return [_summary(project, run, who, chosen_id) for run in reversed(runs)]


def compare_runs(project: Project, first_id: str, second_id: str) -> RunComparison:
    """Line up two runs (of any stages; usually two of one).

    Raises:
        RunError: either run does not exist.
    """
    from core.train.chosen import chosen_student

    runs = get_run(project, first_id), get_run(project, second_id)
    chosen = chosen_student(project)
    chosen_id = None if chosen is None else chosen.run.id
    who = _who(project)
    one, two = (_summary(project, r, who, chosen_id) for r in runs)
    evaluations = [_evaluation(project, r) for r in runs]
    return RunComparison(
        first=one,
        second=two,
        settings=_differing(_flat(runs[0].config), _flat(runs[1].config)),
        figures=_rows(dict(_all_figures(project, runs[0])), dict(_all_figures(project, runs[1]))),
        per_class=_rows(*(_per_class(e) for e in evaluations)),
        calibration=_rows(*(_calibration(e) for e in evaluations)),
        curves=_curves(project, runs),
    )


def _summary(
    project: Project, run: RunRecord, who: dict[str, str], chosen: str | None
) -> RunSummary:
    kind = stage(run.stage)
    return RunSummary(
        id=run.id,
        stage=run.stage,
        status=run.status,
        started=run.started or run.created,
        seconds=_seconds(run),
        who=who.get(run.id, ""),
        settings=_chosen_settings(kind, run),
        figures=_key_figures(project, kind, run),
        chosen=run.id == chosen,
    )


def _who(project: Project) -> dict[str, str]:
    """The OS user who created each run, from the audit log."""
    rows = project.store.conn.execute(
        "SELECT json_extract(details, '$.run'), os_user FROM audit WHERE action = 'run.create'"
    )
    return {str(run): str(user) for run, user in rows}


def _seconds(run: RunRecord) -> float | None:
    if run.started is None or run.finished is None:
        return None
    try:
        span = datetime.fromisoformat(run.finished) - datetime.fromisoformat(run.started)
    except ValueError:
        return None
    return max(0.0, span.total_seconds())


def _chosen_settings(kind: Stage[Any, Any], run: RunRecord) -> tuple[tuple[str, str], ...]:
    """The settings that differ from the stage's defaults (what the person chose)."""
    defaults = {}
    for item in dataclasses.fields(kind.config):
        if item.default is not dataclasses.MISSING:
            defaults[item.name] = to_json(item.default)
        elif item.default_factory is not dataclasses.MISSING:
            defaults[item.name] = to_json(item.default_factory())
    return tuple(
        (name, _text(value))
        for name, value in _flat(run.config).items()
        if name.split(".")[0] not in defaults
        or defaults[name.split(".")[0]] != run.config.get(name.split(".")[0])
    )


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or _NONE
    if value is None:
        return _NONE
    return str(value) if not isinstance(value, dict) else json.dumps(value)


def _key_figures(
    project: Project, kind: Stage[Any, Any], run: RunRecord
) -> tuple[tuple[str, str], ...]:
    result = run_result(project, kind, run)
    if result is None:
        return ()
    if isinstance(result, TrainResult):
        name = result.val_metric_name or "validation metric"
        best = _NONE if result.best_val_metric is None else f"{result.best_val_metric:.3f}"
        return ((f"best {name}", best), ("epochs", f"{result.epochs_run:g}"),
                ("examples", f"{result.train_examples:,}"))  # fmt: skip
    if isinstance(result, EvaluateResult):
        return _evaluation_figures(result)
    return tuple(_scalars(to_json(result))[:3])


def _evaluation_figures(result: EvaluateResult) -> tuple[tuple[str, str], ...]:
    figures = [("verdict", "passed" if result.passed else "failed")]
    for row in result.headline:
        if row.split == "test" and row.model == result.judged:
            figures.append((result.primary_metric, _with(row.metric, row.metric_ci)))
            figures.append(("retention", _with(row.retention, row.retention_ci)))
            figures.append(("ECE", _with(row.ece, row.ece_ci)))
    return tuple(figures)


def _with(value: float | None, interval: Any) -> str:
    if value is None:
        return _NONE
    return f"{value:.3f}" if interval is None else f"{value:.3f} ({interval.text()})"


def _scalars(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, _text(value))
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and name != "run_id"
    ]


def _all_figures(project: Project, run: RunRecord) -> list[tuple[str, str]]:
    kind = stage(run.stage)
    result = run_result(project, kind, run)
    if result is None:
        return [("status", run.status)]
    extra = list(_evaluation_figures(result)) if isinstance(result, EvaluateResult) else []
    return extra + _scalars(_flat(to_json(result)))


def _differing(first: dict[str, Any], second: dict[str, Any]) -> tuple[Row, ...]:
    names = list(dict.fromkeys([*first, *second]))
    return tuple(
        (name, _text(first.get(name)), _text(second.get(name)))
        for name in names
        if first.get(name) != second.get(name)
    )


def _rows(first: dict[str, str], second: dict[str, str]) -> tuple[Row, ...]:
    names = list(dict.fromkeys([*first, *second]))
    return tuple((name, first.get(name, _NONE), second.get(name, _NONE)) for name in names)


def _evaluation(project: Project, run: RunRecord) -> EvaluateResult | None:
    """The run's evaluation: its own for an evaluate run, its student's for a train run."""
    if run.stage == EVALUATE.key:
        return run_result(project, EVALUATE, run)
    if run.stage != TRAIN.key:
        return None
    trained = run_result(project, TRAIN, run)
    if trained is None:
        return None
    folder = trained.model_dir.resolve()
    found = latest(project, EVALUATE, where=lambda r: r.student_dir.resolve() == folder)
    return None if found is None else found.result


def _per_class(result: EvaluateResult | None) -> dict[str, str]:
    if result is None:
        return {}
    for summary in result.sets:
        if summary.split == "test":
            return {
                f"{c.label} (F1, n={c.support})": _NONE
                if c.student is None
                else f"{c.student[2]:.3f}"
                for c in summary.classes
            }
    return {}


def _calibration(result: EvaluateResult | None) -> dict[str, str]:
    if result is None:
        return {}
    rows = {"temperature": _NONE if result.temperature is None else f"{result.temperature:.2f}"}
    for row in result.headline:
        if row.split == "test" and row.model == result.judged:
            rows["ECE"] = _with(row.ece, row.ece_ci)
            rows["ECE after temperature"] = _with(row.ece_calibrated, None)
    return rows


def _curves(
    project: Project, runs: tuple[RunRecord, RunRecord]
) -> dict[str, tuple[Series, Series]]:
    from core.train.overview import read_curves

    found: list[dict[str, Series]] = []
    for run in runs:
        result = run_result(project, TRAIN, run) if run.stage == TRAIN.key else None
        by_name: dict[str, list[tuple[int, float]]] = {}
        if result is not None:
            for point in read_curves(result.curves_path):
                by_name.setdefault(point.name, []).append((point.step, point.value))
        found.append({name: tuple(points) for name, points in by_name.items()})
    names = list(dict.fromkeys([*found[0], *found[1]]))
    return {name: (found[0].get(name, ()), found[1].get(name, ())) for name in names}
