"""The trials of ``--auto`` inside ``Trainer.hyperparameter_search``: each one a train run
(created, or resumed from its checkpoint, when Optuna starts the trial), judged on the
validation split when it ends, its student saved with its lineage."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.configs import to_json
from core.project import Project
from core.reporter import Reporter
from core.train import checkpoints
from core.train.auto import Candidate, SearchState, child_checkpoint, trial_config
from core.train.config import TrainConfig, TrainResult, TrialFigures
from core.train.prepare import Prepared

if TYPE_CHECKING:
    from core.jobs.registry import RunContext


def search_trainer(
    project: Project, config: TrainConfig, prepared: Prepared, run: RunContext,
    reporter: Reporter, state: SearchState,
) -> Any:  # fmt: skip
    """The Trainer whose ``hyperparameter_search`` runs the trials."""
    from transformers import TrainerCallback

    from core.train.session import distill_trainer
    from core.train.trainer import DistillTrainer, StageCallback, training_arguments

    search_state = state

    class Deadline(TrainerCallback):
        """Stops a trial at the budget's end (checkpointed; its best so far is judged)."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if time.time() > search_state.deadline:
                search_state.budget_hit = True
                control.should_training_stop = control.should_save = True

    class AutoTrainer(DistillTrainer):
        def train(self, resume_from_checkpoint: Any = None, trial: Any = None,
                  ignore_keys_for_eval: Any = None, **kwargs: Any) -> Any:  # fmt: skip
            if trial is None:
                return super().train(resume_from_checkpoint, trial, ignore_keys_for_eval, **kwargs)
            return trials.run(self, trial, lambda checkpoint: DistillTrainer.train(
                self, checkpoint, trial, ignore_keys_for_eval, **kwargs))  # fmt: skip

    args = training_arguments(
        project.runs_dir, config=config, task=prepared.task, batch_size=config.batch_size,
        grad_accum=config.grad_accum, train_size=len(prepared.train.items),
        device=prepared.device.kind, precision=prepared.device.precision,
        epochs=prepared.recipe.epochs,
    )  # fmt: skip
    trials = Trials(project, config, prepared, run, reporter, state)
    stage = StageCallback(reporter, run.dir / checkpoints.CURVES,
                          config.batch_size * config.grad_accum, main=True)  # fmt: skip
    trainer = distill_trainer(config, prepared, None, args, [stage, Deadline()],
                              model_init=trials.model, trainer_class=AutoTrainer)  # fmt: skip
    trainer.hp_space_for_search = trials.space
    trainer.trial_folder = trials.folder
    trials.stage = stage
    return trainer


class Trials:
    """Maps Optuna trials to train runs and judges each one."""

    def __init__(self, project: Project, config: TrainConfig, prepared: Prepared,
                 run: RunContext, reporter: Reporter, state: SearchState) -> None:  # fmt: skip
        self.project, self.config, self.prepared = project, config, prepared
        self.run_context, self.reporter, self.state = run, reporter, state
        self.stage: Any = None
        self._runs: dict[int, tuple[str, Candidate]] = {}

    def space(self, trial: Any) -> dict[str, Any]:
        """The trial's TrainingArguments (Optuna holds the enqueued candidate's values).

        Raises:
            optuna.TrialPruned: this size cannot pass any more (a smaller variant's interval
                lies wholly below the floor), so its other variants are skipped.
        """
        import optuna

        state = self.state
        layers = trial.suggest_categorical("layers", sorted({c.layers for c in state.candidates}))
        lr = trial.suggest_float("lr", 1e-7, 1.0, log=True)
        trial.suggest_categorical("alpha", [None, *{c.alpha for c in state.candidates}])
        trial.suggest_categorical("temperature", [None, *{c.temperature for c in state.candidates}])
        tried = [t for t in state.trials if t.layers == layers]
        if any(t.passed for t in state.trials) or any(
            t.retention_high is not None and t.retention_high < state.floor for t in tried
        ):
            raise optuna.TrialPruned(f"{layers} layers cannot reach the floor")
        epochs = self.prepared.recipe.epochs
        return {"learning_rate": lr, "num_train_epochs": epochs}

    def folder(self, trial: Any) -> str:
        """Where the Trainer writes this trial's checkpoints: its own run's folder."""
        run_id, _ = self._runs[trial.number]
        return f"{run_id}/{checkpoints.CHECKPOINTS}"

    def model(self, trial: Any = None) -> Any:
        """The trial's student: ``layers`` of the source, derived once per size."""
        from core.train.derive import derive_student
        from core.train.students import load_student

        layers = 1 if trial is None else int(trial.params["layers"])
        derived = derive_student(self.prepared.source, layers,
                                 self.run_context.dir / f"derived-{layers}")  # fmt: skip
        prepared = self.prepared
        return load_student(derived.folder, prepared.task, prepared.labels, prepared.tokenizer)

    def run(self, trainer: Any, trial: Any, train: Any) -> Any:
        """Claim (or resume) the trial's run, train, judge, save and record it."""
        from core.jobs import runs
        from core.train.trainer import LossSettings

        trainer.hp_space_for_search(trial)  # the same values Optuna gave (or the pruning)
        candidate = Candidate(
            int(trial.params["layers"]),
            float(trial.params["lr"]),
            trial.params.get("alpha"),
            trial.params.get("temperature"),
        )
        child = trial_config(self.config, candidate, self.run_context.id)
        run_id = _claim_run(self.project, child)
        self._runs[trial.number] = (run_id, candidate)
        trainer._loss = LossSettings(self.prepared.task, child.alpha_for(self.prepared.task),
                                     child.temperature)  # fmt: skip
        started = time.perf_counter()
        self.reporter.progress(0.0, f"trial {trial.number + 1}: {candidate.layers} layers, "
                               f"lr {candidate.lr:g}")  # fmt: skip
        try:
            checkpoint = child_checkpoint(self.project, run_id)
            resumed = checkpoints.checkpoint_step(checkpoint)  # before training rotates it
            output = train(checkpoint)
            figures = self._finish(trainer, child, run_id, candidate, (started, resumed))
        except BaseException as exc:
            runs.mark_finished(
                self.project,
                run_id,
                "failed" if not isinstance(exc, KeyboardInterrupt) else "interrupted",
                error_class=type(exc).__name__,
            )
            raise
        self.state.trials.append(figures)
        if figures.passed or self.reporter.cancel_requested():
            trial.study.stop()
        return output

    def _finish(self, trainer: Any, child: TrainConfig, run_id: str, candidate: Candidate,
                begun: tuple[float, int]) -> TrialFigures:  # fmt: skip
        """Save, judge and record a trial (``begun``: its start time, the step it resumed
        from)."""
        from core.jobs import runs
        from core.train.judge import judge_trial
        from core.train.session import _outcome, _save
        from core.train.stage import _result

        if self.reporter.cancel_requested():
            runs.mark_finished(self.project, run_id, "cancelled", result={"resumable": True})
            return _cut(run_id, candidate)
        derived_dir = self.run_context.dir / f"derived-{candidate.layers}"
        prepared = _trial_prepared(self.prepared, derived_dir)
        attempt = _outcome(trainer, self.stage, prepared.device.kind, self.config.batch_size,
                           self.config.grad_accum)  # fmt: skip
        attempt.cancelled = False
        attempt.model_dir = _save(self.project, child, run_id, prepared, trainer, attempt)
        started, resumed = begun
        figures = judge_trial(trainer, prepared, run_id, candidate, self.state, started)
        result = _result(self.project, child, run_id, prepared, attempt, resumed, started)
        result = dataclasses.replace(result, parent_run=self.run_context.id, trial=figures)
        runs.mark_finished(self.project, run_id, "succeeded",
                           result=to_json(result, self.project.path))  # fmt: skip
        return figures


def _claim_run(project: Project, config: TrainConfig) -> str:
    """The trial's run: a stopped one with the same settings (it resumes), else a new one."""
    import os

    from core.jobs import runs
    from core.jobs.registry import TRAIN

    run_id = runs.start_run(project, TRAIN, config)
    runs.mark_running(project, run_id, os.getpid())
    return run_id


def _trial_prepared(prepared: Prepared, derived_dir: Path) -> Prepared:
    import json

    from core.train.derive import DERIVATION_FILE, DerivedStudent

    record = json.loads((derived_dir / DERIVATION_FILE).read_text(encoding="utf-8"))
    derived = DerivedStudent(
        derived_dir,
        Path(record["source"]),
        record["model_type"],
        int(record["source_layers"]),
        tuple(record["kept_layers"]),
    )
    return dataclasses.replace(prepared, student=derived_dir, derived=derived)


def _cut(run_id: str, candidate: Candidate) -> TrialFigures:
    return TrialFigures(run_id, candidate.layers, candidate.lr, candidate.alpha or 0.0,
                        candidate.temperature or 0.0, None, None, None, None, None, None, 0,
                        0.0, False, cut_by_budget=True)  # fmt: skip


def finish_search(
    project: Project, config: TrainConfig, run: RunContext, prepared: Prepared,
    state: SearchState, started: float,
) -> TrainResult:  # fmt: skip
    """The auto run's result: the chosen trial's student with the search's summary."""
    from core.train.frontier import summarise

    return summarise(project, config, run, prepared, state, started)
