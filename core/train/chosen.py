"""Which student Evaluate and Export use (issue 20): the newest trained one, unless a person
chose another train run in the runs view. The choice is a project setting, audited.
"""

from __future__ import annotations

from core.errors import RunError
from core.jobs.registry import TRAIN
from core.jobs.runs import Finished, get_run, latest, run_result
from core.project import Project
from core.train.config import TrainResult

CHOSEN_KEY = "student.chosen_run"


def choose_student(project: Project, run_id: str | None) -> None:
    """Make ``run_id``'s student the one Evaluate and Export use (None: the newest again).

    Raises:
        RunError: the run is not a succeeded train run, or its model folder is gone.
    """
    if run_id is not None:
        run = get_run(project, run_id)
        result = run_result(project, TRAIN, run) if run.stage == TRAIN.key else None
        if result is None:
            raise RunError(
                f"run {run_id} did not train a student", "choose a succeeded training run"
            )
        if not result.model_dir.is_dir():
            raise RunError(
                f"the student of run {run_id} is no longer on disk ({result.model_dir})",
                "choose another training run, or train again",
            )
    previous = project.setting(CHOSEN_KEY)
    project.set_setting(CHOSEN_KEY, run_id)
    project.audit("student.choose", {"run": run_id, "previous": previous})


def chosen_run_id(project: Project) -> str | None:
    """The train run a person chose, if any (it may since have been deleted)."""
    value = project.setting(CHOSEN_KEY)
    return str(value) if value else None


def chosen_student(project: Project) -> Finished[TrainResult] | None:
    """The chosen train run and its result; the newest succeeded one when none was chosen
    or the chosen one's student is gone."""
    wanted = chosen_run_id(project)
    if wanted is not None:
        found = latest(project, TRAIN, where=lambda r: r.run_id == wanted)
        if found is not None and found.result.model_dir.is_dir():
            return found
    # The student the user trained, or the one --auto chose: not one of its trials.
    return latest(project, TRAIN, where=lambda r: r.parent_run is None)
