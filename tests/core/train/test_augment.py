"""Rare-class augmentation (``--augment-rare N``): perturbed copies of rare-class training
rows are labelled by the teacher (its soft labels, not the source row's), counted, trained
on, and never reach validation, test or the store."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from train_helpers import LABELS, fill_project
from transformers import TrainerCallback

from core.errors import TrainError
from core.jobs.execute import run_stage
from core.jobs.registry import TEACH, TRAIN
from core.project import Project, QualityFloor
from core.reporter import NullReporter
from core.teacher.base import TeachItem
from core.teacher.config import TeachConfig
from core.teacher.local_hf import LocalClassifierTeacher
from core.train.augment import augment_unavailable, perturb, rare_classes
from core.train.config import TrainConfig
from core.train.data import load_data, pick_teacher
from core.train.losses import IGNORE_INDEX
from core.train.prepare import augmented

SKEWED = (24, 6, 2)  # train rows per label: the last two are rare (<= 1/4 of the largest)


def _skewed_taught(tmp_path, teacher) -> Project:
    project = Project.create(tmp_path / "skewed", task="classification", labels=LABELS,
                             floor=QualityFloor(0.9))  # fmt: skip
    fill_project(project, 120)  # 72 train rows, 24 a label
    keep = dict(zip(LABELS, SKEWED, strict=True))
    seen: Counter[str] = Counter()
    drop = []
    for row in project.store.query("SELECT id, label FROM records WHERE split = 'train'"):
        seen[row["label"]] += 1
        drop += [row["id"]] if seen[row["label"]] > keep[row["label"]] else []
    with project.store.transaction() as conn:
        conn.executemany("UPDATE records SET split = 'test' WHERE id = ?", [(i,) for i in drop])
    run_stage(project, TEACH, TeachConfig(teacher=f"hf:{teacher}", batch_size=16),
              reporter=NullReporter())  # fmt: skip
    return project


def _config(tiny_classifier, **values) -> TrainConfig:
    return TrainConfig(student=str(tiny_classifier), epochs=1, batch_size=4, checkpoint_every=4,
                       early_stopping=0, device="cpu", **values)  # fmt: skip


def test_a_perturbed_copy_is_seeded_and_changes_the_tokens():
    text = "the invoice for account 12 was charged twice last month"
    first = perturb(text, random.Random("42:7"))
    assert first == perturb(text, random.Random("42:7"))
    assert first != text
    assert set(first.split()) <= set(text.split())
    assert perturb("two words", random.Random(0)) == "two words"
    assert rare_classes((24, 6, 2)) == {1, 2}
    assert rare_classes((8, 7, 6)) == set()


def test_copies_are_labelled_by_the_teacher_and_kept_out_of_validation(
    tmp_path, tiny_classifier
):  # fmt: skip
    project = _skewed_taught(tmp_path, tiny_classifier)
    teacher = pick_teacher(project, None, None)
    data = load_data(project, "classification", teacher, allow_raw_text=False,
                     hard_labels="human", alpha=0.5, seed=42)  # fmt: skip
    more, note = augmented(project, _config(tiny_classifier, augment_rare=3), "classification",
                           LABELS, data)  # fmt: skip
    copies = more.train[len(data.train) :]
    assert more.augmented == len(copies) > 0
    assert "perturbed copies" in note
    assert more.train[: len(data.train)] == data.train
    assert more.validation == data.validation  # validation is untouched
    sources = {e.record_id: e for e in data.train}
    rare = {e.record_id for e in data.train if e.hard_label in (1, 2)}
    assert {c.record_id for c in copies} <= rare  # only rare-class rows were copied
    assert len(copies) <= 3 * len(rare)
    model = LocalClassifierTeacher(tiny_classifier, LABELS)
    items = [TeachItem(i, "train", None, c.text) for i, c in enumerate(copies)]
    said = {o.record_id: o for b in model.outputs(items) for o in b.outputs}
    for i, copy in enumerate(copies):
        assert copy.text != sources[copy.record_id].text
        assert copy.probabilities == pytest.approx(said[i].probabilities, abs=1e-5)
        assert copy.hard_label == IGNORE_INDEX  # no human label: only the teacher's
    texts = {c.text for c in copies}
    assert not texts & {e.text for e in more.validation}


class _TrainRows(TrainerCallback):
    def __init__(self) -> None:
        self.rows = 0

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        self.rows = len(train_dataloader.dataset)


def test_training_counts_the_copies_and_stores_none(tmp_path, tiny_classifier):
    project = _skewed_taught(tmp_path, tiny_classifier)
    stored = project.store.scalar("SELECT COUNT(*) FROM teacher_outputs")
    records = project.store.scalar("SELECT COUNT(*) FROM records")
    spy = _TrainRows()
    result = run_stage(project, TRAIN, _config(tiny_classifier, augment_rare=2),
                       reporter=NullReporter(), callbacks=[spy])  # fmt: skip
    assert result.train_examples == sum(SKEWED)
    assert 0 < result.augmented <= 2 * (SKEWED[1] + SKEWED[2])
    assert spy.rows == sum(SKEWED) + result.augmented
    assert sum(result.class_counts) == spy.rows  # the sampler balances the copies too
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["data"]["augmented_copies"] == result.augmented
    assert lineage["data"]["train_examples"] == sum(SKEWED)
    assert project.store.scalar("SELECT COUNT(*) FROM teacher_outputs") == stored
    assert project.store.scalar("SELECT COUNT(*) FROM records") == records
    assert TrainConfig(student="x").augment_rare == 0  # off by default


def test_augmentation_needs_a_local_classifier_teacher(train_project, tiny_classifier):
    with pytest.raises(TrainError, match="--augment-rare needs a local classifier teacher"):
        run_stage(train_project, TRAIN, _config(tiny_classifier, augment_rare=2),
                  reporter=NullReporter())  # fmt: skip
    with pytest.raises(TrainError, match="--augment-rare must be between 0 and 20"):
        _config(tiny_classifier, augment_rare=-1).validate()


def test_what_the_train_page_is_told_about_augmentation():
    assert augment_unavailable("classification", "hf:tiny@abc?t=1") is None
    assert augment_unavailable("classification", None) is None  # not taught yet: the run says
    assert "classification projects only" in augment_unavailable("generation", "hf:tiny@abc")
    for other in ("labels", "hf:smol@abc?answers=tokens&t=1", "openai:http://x?m=y&answers=t"):
        assert "local classifier teacher" in augment_unavailable("classification", other)
