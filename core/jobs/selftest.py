"""A small stage that exercises the job protocol end to end: steps, checkpoints, resume.

It does no real work; it exists so the worker protocol, cancellation and crash recovery
are tested the same way every real stage uses them. Each step's metric and its checkpoint
are written in one transaction, so a kill between any two instructions leaves the store
consistent and the run resumable at the last completed step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.store.metrics import add_metrics

if TYPE_CHECKING:
    from core.jobs.registry import RunContext


@dataclass(frozen=True, slots=True)
class SelftestConfig:
    """``steps`` steps, ``delay_s`` apart; ``fail_at``: a step that raises (crash tests)."""

    steps: int = 10
    delay_s: float = 0.0
    fail_at: int | None = None


@dataclass(frozen=True, slots=True)
class SelftestResult:
    steps: int
    resumed_from: int


def run_selftest(
    project: Project, config: SelftestConfig, *, run: RunContext, reporter: Reporter
) -> SelftestResult:
    """Count the steps, checkpointing after each one; resume after the last checkpoint."""
    from core.jobs.runs import add_event  # the runs module reads the registry, which reads us

    run_id, steps, delay, fail_at = run.id, config.steps, config.delay_s, config.fail_at
    start = last_checkpoint(project, run_id)
    for step in range(start, steps):
        if reporter.cancel_requested():
            raise StageCancelled(f"cancelled at step {step} of {steps}")
        if fail_at is not None and step == fail_at:
            raise RuntimeError(f"selftest failure injected at step {step}")
        time.sleep(delay)
        with project.store.transaction():
            add_metrics(project.store, run_id, [("", "selftest.step", step + 1.0)], step=step + 1)
            add_event(project, run_id, "checkpoint", {"step": step + 1})
        reporter.metric("selftest.step", float(step + 1), step + 1)
        reporter.progress((step + 1) / steps, f"step {step + 1} of {steps}")
    return SelftestResult(steps, start)


def last_checkpoint(project: Project, run_id: str) -> int:
    """The last completed step recorded for the run (0 if none)."""
    from core.jobs.runs import events

    steps = [event["step"] for event in events(project, run_id) if event["kind"] == "checkpoint"]
    return int(steps[-1]) if steps else 0
