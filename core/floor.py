"""Changing the quality floor, which is allowed only until training starts.

The floor is set when the project is created (DESIGN §4) so that it cannot be tuned to
whatever the student happens to reach. Until a student has been trained nothing is known
about it, so a correction is still honest; from the first training run on, it is fixed.
"""

from __future__ import annotations

from dataclasses import asdict

from core.errors import UserError
from core.jobs.runs import list_runs
from core.project import Project, QualityFloor

LOCKED_REASON = (
    "The quality floor is fixed because training has started: changing it now could tune "
    "it to what the student reached."
)


class FloorLockedError(UserError):
    """The floor cannot change any more: a training run exists."""


def floor_locked_reason(project: Project) -> str | None:
    """Why the floor can no longer change (a sentence), or None while it still can."""
    return LOCKED_REASON if list_runs(project, "train") else None


def change_floor(project: Project, floor: QualityFloor) -> None:
    """Replace the project's quality floor; audited as ``floor.change`` (old and new).

    Raises:
        FloorLockedError: a training run exists (started, stopped or finished).
        UserError: a bound of the new floor is outside its range.
    """
    floor.validate()
    if floor_locked_reason(project) is not None:
        raise FloorLockedError(
            "the quality floor cannot change once training has started",
            "create a new project to train against a different floor",
        )
    old = project.settings.floor
    if old == floor:
        return
    with project.store.transaction():
        project.set_setting("floor", asdict(floor))
        project.audit("floor.change", {"old": asdict(old), "new": asdict(floor)})
