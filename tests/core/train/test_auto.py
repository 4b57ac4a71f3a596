"""``train --auto`` on tiny models: the ordered search stops at the first size that passes,
keeps to its budget, records every trial as a run with its lineage, and resumes after a
kill -9 without repeating a finished trial."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from train_helpers import LABELS, fill_project

from core.jobs.execute import execute_run, run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import create_run, get_run, list_runs, reconcile_runs, run_config, run_result
from core.jobs.worker import WorkerProcess
from core.project import Project, QualityFloor
from core.reporter import NullReporter
from core.train.config import TrainConfig


def _project(tmp_path, floor: float) -> Project:
    project = Project.create(tmp_path / "auto", task="classification", labels=LABELS,
                             floor=QualityFloor(floor))  # fmt: skip
    fill_project(project, 60)
    return project


def _auto(student, **overrides) -> TrainConfig:
    values = dict(derive=str(student), auto=True, batch_size=4, checkpoint_every=4,
                  early_stopping=0, device="cpu", epochs=3, lr=2e-3, layers=3,
                  budget_s=600.0)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def _trials(project, parent):
    return [r for r in list_runs(project, TRAIN.key)
            if run_config(project, TRAIN, r).parent_run == parent]  # fmt: skip


def _assert_recorded(project, result):
    """Every trial of the search is a succeeded train run with its student and lineage."""
    runs = _trials(project, result.run_id)
    assert [r.id for r in runs] == [t.run_id for t in result.search.trials]
    for run in runs:
        assert run.status == "succeeded"
        trial = run_result(project, TRAIN, run)
        lineage = json.loads(trial.lineage_path.read_text())
        assert lineage["training"]["config"]["parent_run"] == result.run_id
        assert trial.trial is not None
        assert trial.parent_run == result.run_id


def test_the_search_stops_at_the_first_size_that_passes(tmp_path, tiny_bert4):
    project = _project(tmp_path, floor=0.5)
    result = run_stage(project, TRAIN, _auto(tiny_bert4), reporter=NullReporter())
    search = result.search
    trials = search.trials
    first_pass = next(i for i, t in enumerate(trials) if t.passed)
    assert first_pass == len(trials) - 1  # nothing ran after the first pass
    assert trials[first_pass].layers > 1  # a smaller size was tried and failed first
    assert all(not t.passed for t in trials[:first_pass])
    assert [t.layers for t in trials] == sorted(t.layers for t in trials)  # smallest first
    assert search.passed
    assert search.stopped == "passed"
    assert search.lever is None
    assert search.chosen_run == trials[first_pass].run_id
    assert result.model_dir == run_result(
        project, TRAIN, get_run(project, search.chosen_run)).model_dir  # fmt: skip
    assert search.frontier_path is not None
    assert search.frontier_path.is_file()
    _assert_recorded(project, result)
    # Evaluate takes the search's own result, not its newest trial run.
    from core.evaluate.inputs import find_student

    source = find_student(project, None)
    assert source.train_run.id == result.run_id
    assert source.model_dir == result.model_dir


def test_nothing_passing_names_a_lever(tmp_path, tiny_bert4):
    project = _project(tmp_path, floor=0.99)
    config = _auto(tiny_bert4, layers=1, lr=1e-4, epochs=1)
    result = run_stage(project, TRAIN, config, reporter=NullReporter())
    search = result.search
    assert not search.passed
    assert search.stopped == "exhausted"
    assert search.lever.startswith("the quantized teacher")
    assert len(search.trials) == 3  # one size, three recipes
    _assert_recorded(project, result)


def test_the_budget_stops_the_search(tmp_path, tiny_bert4):
    project = _project(tmp_path, floor=0.99)
    started = time.perf_counter()
    # 1,000 epochs: no machine finishes (and so passes) the first trial inside 4 s; with 30 a
    # fast CI machine did, and the search stopped as "passed".
    result = run_stage(project, TRAIN, _auto(tiny_bert4, epochs=1000, budget_s=4.0),
                       reporter=NullReporter())  # fmt: skip
    took = time.perf_counter() - started
    search = result.search
    assert search.stopped == "budget"
    assert search.trials[-1].cut_by_budget
    assert len(search.trials) == 1
    assert took < 60
    assert search.lever.startswith(("a larger student", "more data"))


@pytest.mark.slow  # two trials in a worker process, killed, then resumed: ~30-100 s
def test_a_killed_search_resumes_without_repeating_finished_trials(tmp_path, tiny_bert4):
    # Floor 0.99: nothing passes, so the search goes on to a second trial (the 1-layer
    # student's next recipe, or the 2-layer student's first where 1 layer is out of reach).
    project = _project(tmp_path, floor=0.99)
    run_id = create_run(project, TRAIN, _auto(tiny_bert4, layers=2, epochs=8))
    worker = WorkerProcess(project.path, run_id)
    killed = False
    for _ in worker.events():
        if _second_trial_checkpointed(project, run_id):
            os.kill(worker.process.pid, signal.SIGKILL)
            killed = True
            break
    worker.wait(timeout=60)
    assert killed, "the search finished before it could be killed"
    before = _trials(project, run_id)
    assert [r.status for r in before] == ["succeeded", "running"]
    assert set(reconcile_runs(project)) == {run_id, before[1].id}  # both marked interrupted
    outcome = execute_run(project, run_id, lambda event: None)
    assert outcome.status == "succeeded", outcome.error
    result = outcome.result
    ids = [t.run_id for t in result.search.trials]
    # The finished trial is kept, not rerun; the killed one resumed in its own run from its
    # checkpoint; every trial has one run.
    assert ids[:2] == [r.id for r in before]
    assert len(ids) == len(set(ids)) == len(_trials(project, run_id))
    resumed = run_result(project, TRAIN, get_run(project, before[1].id))
    assert resumed.resumed_from_step > 0
    _assert_recorded(project, result)


def _second_trial_checkpointed(project, parent) -> bool:
    from core.train.checkpoints import latest_checkpoint

    trials = _trials(project, parent)
    return (
        len(trials) == 2
        and trials[0].status == "succeeded"
        and latest_checkpoint(project.run_dir(trials[1].id), remove_incomplete=False) is not None
    )


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800.0), ("2h", 7200.0), ("90", 90.0)])
def test_a_budget_reads_as_a_duration(text, seconds):
    from core.commands.train_commands import _duration

    assert _duration(text) == seconds
