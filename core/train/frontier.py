"""What ``--auto`` found: the chosen trial, the quality-vs-latency frontier (a plot), and,
when no student passed, the lever the figures point to."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import TrainError
from core.project import Project
from core.train.config import SearchSummary, TrainConfig, TrainResult, TrialFigures
from core.train.prepare import Prepared

if TYPE_CHECKING:
    from core.jobs.registry import RunContext
    from core.train.auto import SearchState

FRONTIER_SVG = "frontier.svg"
FRONTIER_PNG = "frontier.png"
# An interval wider than this (high - low) on validation says the set is too small to tell.
WIDE_INTERVAL = 0.1


def summarise(
    project: Project, config: TrainConfig, run: RunContext, prepared: Prepared,
    state: SearchState, started: float,
) -> TrainResult:  # fmt: skip
    """The auto run's result: the chosen trial's own result plus the search's summary.

    Raises:
        TrainError: no trial finished within the budget.
    """
    from core.jobs.registry import TRAIN
    from core.jobs.runs import get_run, run_result

    trials = [t for t in state.trials if t.retention is not None]
    chosen = choose(trials)
    if chosen is None:
        raise TrainError(
            f"no trial of the search finished within the budget ({config.budget_s:g} s)",
            "raise --budget (e.g. --budget 1h), or train one student without --auto",
        )
    result = run_result(project, TRAIN, get_run(project, chosen.run_id))
    if result is None:
        raise TrainError(f"the chosen trial {chosen.run_id} has no stored result",
                         "run the same command again to resume the search")  # fmt: skip
    passed = chosen.passed
    stopped = "passed" if passed else "budget" if state.budget_hit or _left(state) else "exhausted"
    frontier = plot_frontier(state.trials, state.floor, run.dir) if state.trials else None
    summary = SearchSummary(
        trials=tuple(state.trials), chosen_run=chosen.run_id, passed=passed, stopped=stopped,
        lever=None if passed else lever(state.trials, state.floor, stopped, len(state.candidates)),
        frontier_path=frontier, budget_s=config.budget_s, floor=state.floor,
        validation_rows=len(prepared.data.validation),
    )  # fmt: skip
    project.audit("train.auto.finish", {"run": run.id, "chosen": chosen.run_id,
                                        "passed": passed, "trials": len(state.trials),
                                        "stopped": stopped})  # fmt: skip
    return dataclasses.replace(
        result,
        run_id=run.id,
        parent_run=None,
        trial=None,
        search=summary,
        seconds=round(time.perf_counter() - started, 2),
        resumed=run.resumed,
        notes=(*result.notes, search_line(summary)),
    )


def _left(state: SearchState) -> bool:
    done = {(t.layers, t.lr) for t in state.trials}
    return any((c.layers, c.lr) not in done for c in state.candidates)


def choose(trials: Sequence[TrialFigures]) -> TrialFigures | None:
    """The first trial that passed (the smallest size: sizes run smallest first), else the
    one with the best retention bound (low end, else point)."""
    passing = [t for t in trials if t.passed]
    if passing:
        return min(passing, key=lambda t: (t.layers, t.latency_ms or 0.0))
    if not trials:
        return None
    return max(trials, key=lambda t: (_bound(t), -(t.latency_ms or 0.0)))


def _bound(trial: TrialFigures) -> float:
    value = trial.retention_low if trial.retention_low is not None else trial.retention
    return -1.0 if value is None else value


def lever(trials: Sequence[TrialFigures], floor: float, stopped: str, candidates: int) -> str:
    """Which lever the trials point to when none passed, in one sentence."""
    judged = [t for t in trials if t.retention is not None]
    if not judged:
        return "no trial finished: raise --budget"
    best = max(judged, key=_bound)
    width = (best.retention_high or 0.0) - (best.retention_low or 0.0)
    largest = max(t.layers for t in judged)
    if best.retention_high is not None and best.retention_high >= floor and width > WIDE_INTERVAL:
        return (f"more data: the best student's validation retention is {best.retention:.3f} "
                f"but its interval ({best.retention_low:.3f} to {best.retention_high:.3f}) is "
                f"too wide to clear the floor {floor:g}; more validation (and training) rows "
                "narrow it")  # fmt: skip
    if stopped == "budget":
        size = "1 layer" if largest == 1 else f"{largest} layers"
        return (f"a larger student: the budget ran out at {size} (best retention "
                f"{best.retention:.3f}); raise --budget to try larger ones")  # fmt: skip
    return (f"the quantized teacher: even the largest student tried ({largest} layers) keeps "
            f"only {best.retention:.3f} of the teacher's macro-F1 (floor {floor:g}); evaluate "
            "the teacher's INT8 baseline, or add data before distilling again")  # fmt: skip


def search_line(summary: SearchSummary) -> str:
    """One sentence on the search's outcome, for notes and the terminal."""
    chosen = next((t for t in summary.trials if t.run_id == summary.chosen_run), None)
    tried = f"{len(summary.trials)} trial{'s' * (len(summary.trials) != 1)}"
    if summary.passed and chosen is not None:
        return (f"--auto: {tried}; the smallest student that clears the floor {summary.floor:g} "
                f"on validation keeps {chosen.layers} layers (retention {chosen.retention:.3f}, "
                f"interval low {_text(chosen.retention_low)}), run {chosen.run_id}")  # fmt: skip
    return f"--auto: {tried}; no student cleared the floor {summary.floor:g}: {summary.lever}"


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def plot_frontier(trials: Sequence[TrialFigures], floor: float, folder: Path) -> Path:
    """Retention (with its interval) against batch-1 latency, the floor drawn; SVG + PNG."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"font.size": 9, "svg.hashsalt": "stillroom"}):
        fig = Figure(figsize=(5.0, 3.2))
        ax = fig.add_subplot()
        for passed, colour, name in ((False, "#b0463c", "fails"), (True, "#2f7d4f", "passes")):
            shown = [t for t in trials if t.passed == passed and t.retention is not None]
            if shown:
                _points(ax, shown, colour, name)
        ax.axhline(floor, color="#555555", linestyle="--", linewidth=1, label=f"floor {floor:g}")
        ax.set_xlabel("latency, batch 1 (ms, PyTorch on this machine)")
        ax.set_ylabel("validation retention (macro-F1)")
        ax.legend(loc="lower right", frameon=False)
        fig.tight_layout()
        svg, png = folder / FRONTIER_SVG, folder / FRONTIER_PNG
        fig.savefig(svg, format="svg")
        fig.savefig(png, format="png", dpi=110)
    svg.chmod(0o600)
    png.chmod(0o600)
    return svg


def _points(ax: Any, trials: Sequence[TrialFigures], colour: str, name: str) -> None:
    xs = [t.latency_ms or 0.0 for t in trials]
    ys = [t.retention or 0.0 for t in trials]
    low = [max(0.0, y - (t.retention_low if t.retention_low is not None else y))
           for t, y in zip(trials, ys, strict=True)]  # fmt: skip
    high = [max(0.0, (t.retention_high if t.retention_high is not None else y) - y)
            for t, y in zip(trials, ys, strict=True)]  # fmt: skip
    ax.errorbar(xs, ys, yerr=[low, high], fmt="o", color=colour, capsize=3, label=name)
    for t, x, y in zip(trials, xs, ys, strict=True):
        ax.annotate(f"{t.layers}L", (x, y), textcoords="offset points", xytext=(5, 4))
