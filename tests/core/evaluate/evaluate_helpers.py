"""Tiny projects for the evaluate tests: records in every split, teacher outputs, a student.

The student is the teacher tests' tiny BERT (2 layers, a locally trained tokenizer) trained
for a few seconds on the synthetic phrases, so it is right most of the time but not always;
it is cached like the teacher tests' models. A "train run" is faked as the train stage
leaves it: a succeeded run whose stored ``TrainResult`` names ``runs/<id>/student``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.configs import to_json
from core.evaluate.sample_size import SampleSizeRules
from core.jobs import runs
from core.jobs.registry import TRAIN
from core.project import Project, QualityFloor
from core.store.db import utc_now
from core.train.config import TrainConfig, TrainResult

sys.path.insert(0, str(Path(__file__).parents[1] / "teacher"))

from tiny_models import LABELS, anonymized_text, build_classifier, cached_model, raw_text

# 10-long cycle against a 3-long label cycle: every split sees every class.
SPLITS = (
    "train",
    "train",
    "train",
    "train",
    "validation",
    "validation",
    "test",
    "test",
    "test",
    "edge",
)
TEACHER_ID = "hf:big-teacher@0123456789ab?t=1"
# The tiny projects' sizes pass these (the seed's defaults would warn and fit no temperature).
TINY = SampleSizeRules(test=10, edge_min=5, edge_max=200, validation=10)


def make_project(tmp_path: Path, name: str = "eval", **floor: float | None) -> Project:
    """A classification project over the tiny models' labels with the given floor."""
    values = {"min_retention": 0.9, **floor}
    return Project.create(
        tmp_path / name, task="classification", labels=LABELS, floor=QualityFloor(**values)
    )


def cached(name: str, build: Callable[[Path], Path]) -> Path:
    """Build a model once per version of this file and the tiny-model recipe."""
    return cached_model(name, build, Path(__file__))


def build_trained_student(folder: Path, labels: tuple[str, ...] = LABELS) -> Path:
    """The tiny classifier, trained 40 steps on the phrases: good, not perfect."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    build_classifier(folder, labels)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    rng = random.Random(1)
    examples = [
        (anonymized_text(label, i), labels.index(label) if label in labels else 0)
        for label in LABELS
        for i in range(40)
    ]
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(40):
        batch = rng.sample(examples, 16)
        enc = tokenizer([t for t, _ in batch], padding=True, return_tensors="pt")
        loss = model(**enc, labels=torch.tensor([y for _, y in batch])).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval().save_pretrained(folder)
    return folder


def fill_records(
    project: Project, count: int, *, labelled: bool = True, splits: Sequence[str] = SPLITS
) -> list[int]:
    """Insert anonymized records cycling through the splits and labels; return their ids."""
    with project.store.transaction() as conn:
        dataset = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) VALUES "
            "('t', '/dev/null', ?, 0, 'csv', ?, ?, '{}', '{}', ?)",
            (f"sha-{count}-{utc_now()}", count, count, utc_now()),
        ).lastrowid
        ids = []
        for i in range(count):
            label = LABELS[i % len(LABELS)]
            cur = conn.execute(
                "INSERT INTO records (dataset_id, source_row, split, text, text_sha256, label) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    dataset,
                    i + 1,
                    splits[i % len(splits)],
                    raw_text(label, i),
                    f"{dataset}-{i}".encode(),
                    label if labelled else None,
                ),
            )
            ids.append(int(cur.lastrowid))
            conn.execute(
                "INSERT INTO anonymized (record_id, text, entity_counts, config_hash, "
                "created_at) VALUES (?, ?, '{\"PERSON\": 1}', 'test', ?)",
                (cur.lastrowid, anonymized_text(label, i), utc_now()),
            )
    return ids


def add_teacher_outputs(
    project: Project,
    *,
    teacher_id: str = TEACHER_ID,
    wrong_every: int = 7,
    skip_split: str | None = None,
) -> None:
    """Soft labels that are right except every ``wrong_every``-th record, at a small cost."""
    rows = project.store.query("SELECT id, split, label FROM records ORDER BY id")
    with project.store.transaction() as conn:
        for n, row in enumerate(rows):
            if row["split"] == skip_split:
                continue
            true = LABELS.index(row["label"]) if row["label"] in LABELS else n % len(LABELS)
            answer = (true + 1) % len(LABELS) if n % wrong_every == 3 else true
            probs = [0.1] * len(LABELS)
            probs[answer] = 1.0 - 0.1 * (len(LABELS) - 1)
            conn.execute(
                "INSERT INTO teacher_outputs (record_id, teacher_id, prompt_version, label, "
                "probabilities, soft_label_source, latency_ms, input_tokens, output_tokens, "
                "cost, created_at) VALUES (?, ?, '', ?, ?, 'logits', 20.0, 30, 1, 0.0002, ?)",
                (row["id"], teacher_id, LABELS[answer], json.dumps(probs), utc_now()),
            )


def finish_run(project: Project, run_id: str, result: Any) -> None:
    """Close ``run_id`` as succeeded with ``result``, stored as the run lifecycle stores it."""
    runs.mark_running(project, run_id, os.getpid())
    runs.mark_finished(project, run_id, "succeeded", result=to_json(result, project.path))


def fake_train_run(
    project: Project,
    student: Path,
    *,
    teacher_id: str | None = TEACHER_ID,
    labels: Sequence[str] = LABELS,
    config: TrainConfig | None = None,
) -> Path:
    """A succeeded train run whose model is a copy of ``student``, with a lineage file."""
    run_id = runs.create_run(project, TRAIN, config or TrainConfig(teacher_id=teacher_id))
    target = project.run_dir(run_id) / "student"
    shutil.copytree(student, target)
    lineage = {
        "labels": list(labels),
        "data": {"raw_text_records": 0},
        "teacher": {"teacher_id": teacher_id, "prompt_version": ""},
    }
    (target / "lineage.json").write_text(json.dumps(lineage), encoding="utf-8")
    finish_run(project, run_id, train_result(run_id, target, teacher_id or ""))
    return target


def train_result(run_id: str, model_dir: Path, teacher_id: str) -> TrainResult:
    """What a short train run of ``model_dir`` returns."""
    return TrainResult(
        run_id=run_id, model_dir=model_dir, lineage_path=model_dir / "lineage.json",
        curves_path=model_dir.parent / "curves.json", task="classification",
        teacher_id=teacher_id, prompt_version="", resumed=False, resumed_from_step=0,
        global_step=40, epochs_run=1.0, best_val_metric=None, val_metric_name="macro_f1",
        stopped_early=False, train_examples=0, validation_examples=0, samples_per_s=0.0,
        peak_memory_mb=0.0, device="cpu", batch_size=16, grad_accum=1, oom_retries=0,
        seconds=1.0, truncated_share=0.0,
    )  # fmt: skip


LEGACY = Path(__file__).parents[2] / "fixtures" / "legacy-0.1.0" / "project.tar.gz"


def unpack_legacy(folder: Path) -> Path:
    """The project release 0.1.0 made, unpacked under ``folder`` (not where it was made)."""
    with tarfile.open(LEGACY) as archive:
        archive.extractall(folder, filter="data")
    return folder / "legacy-project"


def all_texts(project: Project) -> list[str]:
    """Every raw and anonymized text in the project (the report must contain none)."""
    rows = project.store.query(
        "SELECT r.text AS raw, a.text AS anon FROM records r "
        "LEFT JOIN anonymized a ON a.record_id = r.id"
    )
    return [t for row in rows for t in (row["raw"], row["anon"]) if t]
