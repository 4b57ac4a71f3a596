"""``train --auto`` on tiny models: ordered search, stop at the first passing size, budget,
every trial a run with lineage, resume after kill -9."""

from __future__ import annotations

import json

from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import list_runs
from core.project import QualityFloor
from core.reporter import NullReporter
from core.train.config import TrainConfig


def _auto(student, **overrides):
    values = dict(derive=str(student), auto=True, batch_size=4, checkpoint_every=4,
                  early_stopping=0, device="cpu", epochs=2, budget_s=600.0, seed=1)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def _trials(project, parent):
    return [r for r in list_runs(project, TRAIN.key) if r.config.get("parent_run") == parent]


def test_auto_stops_at_the_first_passing_size_and_records_every_trial(train_project, tiny_bert4):
    train_project.set_floor(QualityFloor(0.01)) if hasattr(train_project, "set_floor") else None
    result = run_stage(train_project, TRAIN, _auto(tiny_bert4), reporter=NullReporter())
    search = result.search
    assert search is not None
    print(json.dumps([t.__repr__() for t in search.trials], indent=1))
    trials = _trials(train_project, result.run_id)
    assert len(trials) == len(search.trials)
