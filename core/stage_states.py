"""Where each stage of a project stands, for the GUI's sidebar and ``stillroom status``.

Everything is derived from the store: the ``runs`` table (every stage runs under a run,
from the CLI and the GUI alike), with the stage's own tables as evidence where a project was
filled without runs (older projects, test helpers). Stages unlock in order; a stage whose
upstream finished again after it did is *stale*, and the reason names which one. A stage
that finished but whose outcome cannot be trusted *needs attention*, not Done: training
that ended at chance level, an evaluation whose file fails the floor or whose verdict rests
on too small a test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.jobs.registry import ANONYMIZE, EVALUATE, IMPORT, PIPELINE, TEACH, TRAIN, Stage
from core.jobs.runs import RunRecord, latest_result, list_runs, reconcile_runs
from core.project import Project

State = Literal["locked", "not_started", "running", "done", "stale", "needs_attention"]
STATE_TEXT: dict[State, str] = {
    "locked": "Locked",
    "not_started": "Not started",
    "running": "Running",
    "done": "Done",
    "stale": "Out of date",
    "needs_attention": "Needs attention",
}

_STOPPED = {
    "cancelled": "was cancelled",
    "interrupted": "was interrupted (its process stopped)",
    "failed": "failed",
}


@dataclass(frozen=True, slots=True)
class StageState:
    """One stage's state and one plain sentence saying why.

    Attributes:
        state: locked, not_started, running, done, stale or needs_attention.
        reason: a sentence for people (a tooltip), never row contents.
        run_id: the run the state comes from (the one to resume, for needs_attention).
    """

    state: State
    reason: str
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What the store says about one stage before its upstream is considered."""

    runs: tuple[RunRecord, ...]
    finished: str | None  # when its newest result was written; None if it has none
    summary: str


def stage_states(project: Project) -> dict[str, StageState]:
    """The state of ``project`` and of every stage of the pipeline, in order, by stage key.

    Runs whose worker died are marked interrupted first, so the answer is current.
    """
    reconcile_runs(project)
    by_stage: dict[str, list[RunRecord]] = {}
    for run in list_runs(project):
        by_stage.setdefault(run.stage, []).append(run)
    evidence = {stage.key: _evidence(project, stage, by_stage) for stage in PIPELINE}
    states = {"project": _project_state(project)}
    for index, stage in enumerate(PIPELINE):
        # An optional step (the trial server) neither unlocks nor outdates what follows it.
        upstream = [(s, evidence[s.key]) for s in reversed(PIPELINE[:index]) if not s.optional]
        state = _state(stage, evidence[stage.key], upstream)
        if state.state == "done":
            state = _attention(project, stage, state)
        states[stage.key] = state
    return states


def _attention(project: Project, stage: Stage[Any, Any], done: StageState) -> StageState:
    """``done`` unless the finished stage's own result says it cannot be trusted."""
    why = None
    if stage is TRAIN:
        trained = latest_result(project, TRAIN, where=lambda r: r.parent_run is None)
        reason = None if trained is None else trained.needs_attention
        if reason is not None:
            why = f"{reason[0].upper()}{reason[1:]}."
    elif stage is EVALUATE:
        evaluated = latest_result(project, EVALUATE)
        reason = None if evaluated is None else evaluated.needs_attention
        if reason is not None:
            why = f"{reason[0].upper()}{reason[1:]}."
    return done if why is None else StageState("needs_attention", why, done.run_id)


def _project_state(project: Project) -> StageState:
    settings = project.settings
    labels = f"{len(settings.labels)} labels" if settings.labels else "labels from the data"
    detail = labels if settings.task == "classification" else "no label set"
    return StageState(
        "done",
        f"A {settings.task} project ({detail}); quality floor: keep at least "
        f"{settings.floor.min_retention:.0%} of the teacher's score.",
    )


def _state(
    stage: Stage[Any, Any], mine: _Evidence, upstream: list[tuple[Stage[Any, Any], _Evidence]]
) -> StageState:
    latest = mine.runs[-1] if mine.runs else None
    if latest is not None and latest.status == "running":
        return StageState("running", f"The {stage.noun} is in progress.", latest.id)
    stopped = _stopped(stage, mine, latest)
    if stopped is not None:
        return stopped
    if mine.finished is None:
        if upstream and upstream[0][1].finished is None:
            return StageState("locked", stage.first)
        return StageState("not_started", "Ready to start.")
    for up_stage, up in upstream:
        if up.finished is not None and up.finished > mine.finished:
            cause = f"{up_stage.changed} after {stage.ran}"
            return StageState("stale", f"{cause[0].upper()}{cause[1:]}; run it again.")
    return StageState("done", mine.summary, _last_success(mine))


def _stopped(
    stage: Stage[Any, Any], mine: _Evidence, latest: RunRecord | None
) -> StageState | None:
    """needs_attention when the newest run stopped short, except a failed import, which
    wrote nothing and leaves earlier data as it was."""
    if latest is None or latest.status not in _STOPPED:
        return None
    if stage is IMPORT:
        if mine.finished is not None:
            return None
        why = _error(latest)
        return StageState(
            "needs_attention", f"The last import {_STOPPED[latest.status]}{why}.", latest.id
        )
    resume = "; fix the cause, then resume it" if latest.status == "failed" else "; resume it"
    sentence = f"The last {stage.noun} {_STOPPED[latest.status]}{_error(latest)}{resume}."
    return StageState("needs_attention", sentence, latest.id)


def _error(run: RunRecord) -> str:
    if run.status != "failed" or not run.error_message:
        return ""
    # The stored message is a UserError's one line (message — hint): the message part is
    # enough for a tooltip, and it never holds row contents.
    return f" ({run.error_message.split(' — ')[0].rstrip('.')})"


def _last_success(mine: _Evidence) -> str | None:
    done = [run for run in mine.runs if run.status == "succeeded"]
    return done[-1].id if done else None


def _evidence(
    project: Project, stage: Stage[Any, Any], by_stage: dict[str, list[RunRecord]]
) -> _Evidence:
    runs = tuple(by_stage.get(stage.key, ()))
    finished = max(
        (run.finished for run in runs if run.status == "succeeded" and run.finished),
        default=None,
    )
    written, summary = _written(project, stage)
    if written is not None and (finished is None or written > finished):
        finished = written
    if summary is None:
        summary = f"Finished {_when(finished)}." if finished else ""
    return _Evidence(runs, finished, summary)


def _written(project: Project, stage: Stage[Any, Any]) -> tuple[str | None, str | None]:
    """When the stage's own table was last written, and a summary of it (the stages that
    projects filled without runs had: older projects, test helpers)."""
    scalar = project.store.scalar
    if stage is IMPORT:
        count = int(scalar("SELECT COUNT(*) FROM records") or 0)
        latest = scalar("SELECT MAX(imported_at) FROM datasets")
        return latest, f"{count:,} records imported." if latest else None
    if stage is ANONYMIZE:
        done = int(scalar("SELECT COUNT(*) FROM anonymized") or 0)
        total = int(scalar("SELECT COUNT(*) FROM records") or 0)
        latest = scalar("SELECT MAX(created_at) FROM anonymized")
        return latest, f"{done:,} of {total:,} records anonymized." if latest else None
    if stage is TEACH:
        count = int(scalar("SELECT COUNT(*) FROM teacher_outputs") or 0)
        latest = scalar("SELECT MAX(created_at) FROM teacher_outputs")
        return latest, f"{count:,} teacher answers stored." if latest else None
    return None, None


def _when(stamp: str) -> str:
    """``2026-01-05T09:30:12.123456+00:00`` → ``2026-01-05 09:30 UTC``."""
    return f"{stamp[:10]} {stamp[11:16]} UTC"
