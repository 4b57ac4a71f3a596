"""``stillroom train --auto``: the smallest, fastest student whose validation retention
clears the floor, searched with ``Trainer.hyperparameter_search`` (Optuna) in a time budget.

The space is small and ordered: students that keep 1, 2, ... layers of the source (the
teacher where it is a local model of the same family, else ``--derive PATH``), smallest
first; for each size the default recipe first, then a higher learning rate and a softer
teacher (alpha 0.9, T 2), which run only while that size is still in reach (the upper end
of its retention interval clears the floor; otherwise they are pruned). The first student
whose validation interval lies wholly above the floor stops the search: it is the smallest
that passes, so also the fastest of those tried.

Every trial is a train run of its own (``parent_run`` = the auto run) with its student,
lineage and checkpoints; the Optuna study lives in the auto run's folder. A killed search
resumes like any run: finished trials are kept, the interrupted one resumes from its last
checkpoint, and a fresh study runs the candidates that are left.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.train import checkpoints
from core.train.config import DEFAULT_LR, TrainConfig, TrainResult, TrialFigures
from core.train.prepare import prepare

if TYPE_CHECKING:
    from core.jobs.registry import RunContext

STUDY_FILE = "search.db"
# (learning-rate factor, alpha, temperature) tried per size, in order; the first is the
# library's default recipe.
VARIANTS: tuple[tuple[float, float | None, float | None], ...] = (
    (1.0, None, None), (2.0, None, None), (1.0, 0.9, 2.0),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidate:
    """One point of the ordered space."""

    layers: int
    lr: float
    alpha: float | None
    temperature: float | None

    @property
    def params(self) -> dict[str, Any]:
        return {"layers": self.layers, "lr": self.lr, "alpha": self.alpha,
                "temperature": self.temperature}  # fmt: skip


@dataclass
class SearchState:
    """What the search knows so far: the candidates, the trials run, the deadline."""

    candidates: list[Candidate]
    deadline: float
    floor: float
    trials: list[TrialFigures] = field(default_factory=list)
    current: dict[int, str] = field(default_factory=dict)  # optuna trial number -> run id
    budget_hit: bool = False


def candidates(config: TrainConfig, source_layers: int) -> list[Candidate]:
    """The ordered space: sizes ascending (up to ``--layers`` or one below the source),
    each with :data:`VARIANTS`."""
    largest = min(config.layers or source_layers - 1, source_layers - 1)
    base_lr = config.lr or DEFAULT_LR
    return [
        Candidate(layers, base_lr * factor, alpha, temperature)
        for layers in range(1, largest + 1)
        for factor, alpha, temperature in VARIANTS
    ]


def trial_config(config: TrainConfig, candidate: Candidate, parent: str) -> TrainConfig:
    """A trial's own train config: a plain derived run, with its parent's settings."""
    return dataclasses.replace(
        config, auto=False, layers=candidate.layers, lr=candidate.lr,
        alpha=config.alpha if candidate.alpha is None else candidate.alpha,
        temperature=config.temperature if candidate.temperature is None
        else candidate.temperature, parent_run=parent,
    )  # fmt: skip


def run_auto(
    project: Project, config: TrainConfig, *, run: RunContext, reporter: Reporter
) -> TrainResult:
    """Search, then return the chosen trial's result with the search's summary.

    Raises:
        TrainError: the options, the source or the data cannot be used.
        StageCancelled: the reporter asked to stop (the running trial checkpointed first).
    """
    from core.train.search import finish_search, search_trainer

    started = time.perf_counter()
    prepared = prepare(project, config, run.dir, main=True)
    total = _source_layers(prepared.source)
    state = SearchState(candidates(config, total), time.time() + config.budget_s,
                        project.settings.floor.min_retention)  # fmt: skip
    state.trials = _finished_trials(project, run.id)
    project.audit("train.auto.start", {"run": run.id, "budget_s": config.budget_s,
                                       "candidates": len(state.candidates),
                                       "resumed_trials": len(state.trials)})  # fmt: skip
    left = _left(state, config, prepared.task)
    if left and not any(t.passed for t in state.trials):
        trainer = search_trainer(project, config, prepared, run, reporter, state)
        _optimize(trainer, run, left, state)
        if reporter.cancel_requested():
            raise StageCancelled("the search was cancelled; its trials are kept")
    return finish_search(project, config, run, prepared, state, started)


def _optimize(trainer: Any, run: RunContext, left: list[Candidate], state: SearchState) -> None:
    """``Trainer.hyperparameter_search`` over the candidates still to run, in order."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{run.dir / STUDY_FILE}"
    name = f"{run.id}-{len(optuna.get_all_study_summaries(storage)) + 1}"
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for candidate in left:
        study.enqueue_trial(candidate.params)
    trainer.hyperparameter_search(
        direction="maximize", backend="optuna", n_trials=len(left),
        hp_space=trainer.hp_space_for_search, hp_name=trainer.trial_folder,
        compute_objective=lambda metrics: float(metrics.get("eval_retention", 0.0)),
        study_name=name, storage=storage, load_if_exists=True,
        timeout=max(state.deadline - time.time(), 1.0),
        sampler=optuna.samplers.TPESampler(seed=0),
    )  # fmt: skip


def _left(state: SearchState, config: TrainConfig, task: str) -> list[Candidate]:
    """The candidates no finished trial has run (a trial records the alpha and T it trained
    with; a candidate's None stands for the config's)."""

    def key(layers: int, lr: float, alpha: float, temperature: float) -> tuple[Any, ...]:
        return layers, round(lr, 12), round(alpha, 6), round(temperature, 6)

    done = {key(t.layers, t.lr, t.alpha, t.temperature) for t in state.trials}
    left = []
    for c in state.candidates:
        child = trial_config(config, c, "")
        if key(c.layers, c.lr, child.alpha_for(task), child.temperature) not in done:
            left.append(c)
    return left


def _source_layers(source: Path) -> int:
    from core.train.students import read_config

    return int(read_config(source).get("num_hidden_layers") or 0)


def _finished_trials(project: Project, parent: str) -> list[TrialFigures]:
    """The trials of ``parent`` that finished in an earlier attempt (a resumed search)."""
    from core.jobs.registry import TRAIN
    from core.jobs.runs import list_runs, run_result

    found = []
    for child in list_runs(project, TRAIN.key):
        if child.config.get("parent_run") != parent or child.status != "succeeded":
            continue
        result = run_result(project, TRAIN, child)
        if result is not None and result.trial is not None:
            found.append(result.trial)
    return found


def child_checkpoint(project: Project, run_id: str) -> Path | None:
    """The last complete checkpoint of a trial run (None: it starts from scratch)."""
    return checkpoints.latest_checkpoint(project.run_dir(run_id))
