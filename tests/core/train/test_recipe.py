"""The data-dependent recipe: class-aware sampling draws each epoch's classes as specified,
loss weights reach both terms, epochs follow the data's size, and a derived student is cut
from a same-family local teacher (its weights, not the base's)."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
import torch
from safetensors.torch import load_file, save_file
from train_helpers import LABELS, fill_project
from transformers import TrainerCallback

from core.jobs.execute import run_stage
from core.jobs.registry import TEACH, TRAIN
from core.project import Project, QualityFloor
from core.reporter import NullReporter
from core.store.db import utc_now
from core.teacher.config import TeachConfig
from core.train.config import TrainConfig
from core.train.data import Example
from core.train.features import SeededLengthSampler
from core.train.losses import classification_kd_loss
from core.train.recipe import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    class_weights,
    epoch_counts,
    epochs_for,
    make_recipe,
)

SKEWED = (15, 5, 2)  # train rows per label: the largest class has 7.5x the smallest


def test_the_sampler_draws_each_epoch_the_planned_rows_of_every_class():
    classes = [0] * 60 + [1] * 15 + [2] * 5
    plan = epoch_counts(Counter(classes).values(), len(classes))
    assert sum(plan) == len(classes)
    assert plan[2] > 5
    assert plan[0] < 60
    sampler = SeededLengthSampler([10] * len(classes), 4, seed=3, group=True, classes=classes,
                                  plan=plan)  # fmt: skip
    seen = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        rows = list(sampler)
        assert len(rows) == len(sampler) == sum(plan)
        counts = Counter(classes[i] for i in rows)
        assert tuple(counts[c] for c in range(3)) == plan
        assert set(range(75, 80)) <= set(rows)  # a class smaller than its share: every row
        seen.append(rows)
    assert seen[0] != seen[1]  # a fresh draw each epoch...
    sampler.set_epoch(1)
    assert list(sampler) == seen[1]  # ...that depends only on the seed and the epoch


def test_shares_follow_the_square_root_of_the_counts():
    assert epoch_counts((100, 25, 4), 129) == (76, 38, 15)  # 10 : 5 : 2 of 129
    assert epoch_counts((100, 25, 4), 129, power=0.0) == (43, 43, 43)
    weights = class_weights((100, 25, 4))
    assert weights[2] > weights[1] > weights[0]
    assert sum(w * n for w, n in zip(weights, (100, 25, 4), strict=True)) == pytest.approx(129)


def test_epochs_follow_the_data_size():
    assert epochs_for(100_000) == MIN_EPOCHS
    assert epochs_for(2_300) == 7.0
    assert epochs_for(200) == MAX_EPOCHS


def test_auto_balances_only_skewed_labels():
    def rows(counts):
        return [
            Example(i, "t", (1.0, 0.0, 0.0), hard_label=c)
            for i, c in enumerate(c for c, n in enumerate(counts) for _ in range(n))
        ]

    assert make_recipe(TrainConfig(student="x"), "classification", rows((24, 6, 2)), 3).balance == (
        "sampler"
    )
    assert make_recipe(TrainConfig(student="x"), "classification", rows((8, 7, 6)), 3).balance == (
        "off"
    )
    unlabelled = [Example(0, "t", (0.1, 0.2, 0.7)), Example(1, "t", (0.8, 0.1, 0.1))]
    recipe = make_recipe(TrainConfig(student="x", balance="weights"), "classification",
                         unlabelled, 3)  # fmt: skip
    assert recipe.class_counts == (1, 0, 1)  # the teacher's label where there is no human one


def test_row_weights_scale_both_terms():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    teacher = torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    labels = torch.tensor([1, 1])
    plain = classification_kd_loss(logits, teacher, labels, alpha=0.5, temperature=1.0)
    ones = classification_kd_loss(logits, teacher, labels, alpha=0.5, temperature=1.0,
                                  row_weights=torch.tensor([1.0, 1.0]))  # fmt: skip
    first = classification_kd_loss(logits, teacher, labels, alpha=0.5, temperature=1.0,
                                   row_weights=torch.tensor([2.0, 0.0]))  # fmt: skip
    only_first = classification_kd_loss(logits[:1], teacher[:1], labels[:1], alpha=0.5,
                                        temperature=1.0)  # fmt: skip
    assert ones == pytest.approx(plain)
    assert first == pytest.approx(only_first)  # the wrong row (weight 2 of 2) is all that counts


def _skewed_project(tmp_path) -> Project:
    """Train rows 24 / 6 / 2 per label (the rest moved to the test split)."""
    project = Project.create(tmp_path / "skewed", task="classification", labels=LABELS,
                             floor=QualityFloor(0.9))  # fmt: skip
    fill_project(project, 75)  # 45 train rows, 15 a label
    keep = dict(zip(LABELS, SKEWED, strict=True))
    seen: Counter[str] = Counter()
    drop = []
    for row in project.store.query(
        "SELECT id, label FROM records WHERE split = 'train' ORDER BY id"
    ):
        seen[row["label"]] += 1
        drop += [row["id"]] if seen[row["label"]] > keep[row["label"]] else []
    with project.store.transaction() as conn:
        conn.executemany("UPDATE records SET split = 'test' WHERE id = ?", [(i,) for i in drop])
    return project


class _EpochLabels(TrainerCallback):
    """Reads the whole training order of each epoch from the Trainer's own data loader."""

    def __init__(self) -> None:
        self.epochs: list[Counter[int]] = []

    def on_epoch_begin(self, args, state, control, train_dataloader=None, **kwargs):
        seen: Counter[int] = Counter()
        for batch in train_dataloader:
            seen.update(batch["labels"].tolist())
        self.epochs.append(seen)


def test_class_aware_training_follows_the_plan_each_epoch(tmp_path, tiny_classifier):
    project = _skewed_project(tmp_path)
    spy = _EpochLabels()
    config = TrainConfig(student=str(tiny_classifier), epochs=2, batch_size=4,
                         checkpoint_every=8, early_stopping=0, device="cpu")  # fmt: skip
    result = run_stage(project, TRAIN, config, reporter=NullReporter(), callbacks=[spy])
    assert result.balance == "sampler"
    counts = result.class_counts
    assert counts == SKEWED
    assert result.epoch_counts == epoch_counts(counts, sum(counts))
    assert len(spy.epochs) == 2
    for seen in spy.epochs:
        assert tuple(seen[c] for c in range(3)) == result.epoch_counts
    lineage = json.loads(result.lineage_path.read_text())["training"]["recipe"]
    assert lineage["balance"] == "sampler"
    assert lineage["epoch_counts"] == list(result.epoch_counts)
    off = run_stage(project, TRAIN, TrainConfig(**{**_fields(config), "balance": "off"}),
                    reporter=NullReporter())  # fmt: skip
    assert off.epoch_counts == off.class_counts == counts


def _fields(config: TrainConfig) -> dict:
    import dataclasses

    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


# -- deriving from the teacher -------------------------------------------------------------


def _teacher_from(base, folder):
    """A 'fine-tuned' teacher of the base's family: its weights shifted, so they differ."""
    shutil.copytree(base, folder)
    weights = load_file(str(folder / "model.safetensors"))
    save_file({k: v + 0.5 for k, v in weights.items()}, str(folder / "model.safetensors"))
    return folder


def _teach(project, teacher):
    return run_stage(project, TEACH, TeachConfig(teacher=f"hf:{teacher}", batch_size=16),
                     reporter=NullReporter())  # fmt: skip


def _derived_weights(result):
    return load_file(str(result.model_dir.parent / "derived" / "model.safetensors"))


def test_a_student_is_cut_from_a_same_family_teacher(tmp_path, train_project, tiny_bert4):
    teacher = _teacher_from(tiny_bert4, tmp_path / "teacher")
    _teach(train_project, teacher)
    config = TrainConfig(derive=str(tiny_bert4), layers=2, epochs=1, batch_size=8,
                         checkpoint_every=4, early_stopping=0, device="cpu")  # fmt: skip
    result = run_stage(train_project, TRAIN, config, reporter=NullReporter())
    assert result.derived_from == teacher
    assert any("derived from the teacher's own weights" in n for n in result.notes)
    ours, theirs = _derived_weights(result), load_file(str(teacher / "model.safetensors"))
    base = load_file(str(tiny_bert4 / "model.safetensors"))
    # Layers 0 and 3 of 4 kept, the head and embeddings too: the teacher's, not the base's.
    for new, old in ((0, 0), (1, 3)):
        name = "bert.encoder.layer.{}.attention.self.query.weight"
        assert torch.equal(ours[name.format(new)], theirs[name.format(old)])
        assert not torch.equal(ours[name.format(new)], base[name.format(old)])
    for name in ("classifier.weight", "bert.embeddings.word_embeddings.weight"):
        assert torch.equal(ours[name], theirs[name])
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["student"]["derived_from"]["source"] == str(teacher)

    path = run_stage(train_project, TRAIN, TrainConfig(**{**_fields(config),
                                                          "derive_from": "path"}),
                     reporter=NullReporter())  # fmt: skip
    name = "bert.encoder.layer.1.attention.self.query.weight"
    assert torch.equal(_derived_weights(path)[name], base[name.replace(".1.", ".3.")])


def test_a_teacher_of_another_shape_falls_back_to_the_given_model(
    tmp_path, train_project, tiny_bert4, tiny_classifier
):  # fmt: skip
    _teach(train_project, tiny_classifier)  # 2 layers of another width and vocabulary order
    config = TrainConfig(derive=str(tiny_bert4), layers=2, epochs=1, batch_size=8,
                         checkpoint_every=4, early_stopping=0, device="cpu")  # fmt: skip
    result = run_stage(train_project, TRAIN, config, reporter=NullReporter())
    assert result.derived_from == tiny_bert4
    assert any("not from the teacher" in n for n in result.notes)


def test_an_unlabelled_import_is_taught_and_trained_on(tmp_path, tiny_classifier):
    import csv

    from tiny_models import anonymized_text

    from core.data.importer import ImportConfig
    from core.jobs.registry import IMPORT

    project = Project.create(tmp_path / "unlabelled", task="classification", labels=LABELS,
                             floor=QualityFloor(0.9))  # fmt: skip
    source = tmp_path / "messages.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([[anonymized_text(LABELS[i % 3], i)] for i in range(50)])
    imported = run_stage(project, IMPORT, ImportConfig(source=source, text_column="text"))
    assert project.store.scalar("SELECT COUNT(*) FROM records WHERE label IS NULL") == 50
    with project.store.transaction() as conn:  # the anonymizer is not what is tested here
        conn.execute(
            "INSERT INTO anonymized (record_id, text, entity_counts, config_hash, "
            "created_at) SELECT id, text, '{}', 'test', ? FROM records",
            (utc_now(),),
        )
    taught = _teach(project, tiny_classifier)
    assert (
        taught.labelled == imported.rows_imported
        if hasattr(imported, "rows_imported")
        else taught.labelled == 50
    )
    train_rows = project.store.scalar("SELECT COUNT(*) FROM records WHERE split = 'train'")
    result = run_stage(project, TRAIN, TrainConfig(student=str(tiny_classifier), epochs=1,
                                                   batch_size=8, checkpoint_every=4,
                                                   early_stopping=0, device="cpu"),
                       reporter=NullReporter())  # fmt: skip
    assert result.train_examples == train_rows > 0
    assert "no_teacher_output" not in result.skipped
    assert "no_hard_label" not in result.skipped
    assert sum(result.class_counts) == train_rows  # classed by the teacher's labels
