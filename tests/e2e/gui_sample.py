"""A small, fully-run sample project for the GUI end-to-end test and the screenshots.

The CSV is the tiny models' three-label task (billing / clinical / other, see
``tests/core/teacher/tiny_models.py``) with synthetic identifiers planted in every record:
a person's name, an e-mail address and a phone number. The teacher is the tiny BERT of the
teacher tests trained for a few seconds on the records' anonymized form (right most of the
time, not always); the student is derived from it by keeping one of its two layers. The
teacher is cached, the rest takes seconds: a whole project is built in under a minute on
two cores.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs.registry import Stage

TEACHER_TESTS = Path(__file__).resolve().parents[1] / "core" / "teacher"
if str(TEACHER_TESTS) not in sys.path:
    sys.path.insert(0, str(TEACHER_TESTS))

from tiny_models import LABELS, PHRASES, build_classifier, cached_model  # noqa: E402

FIRST_NAMES = ("Maria", "James", "Aisha", "Robert", "Chen", "Olga", "David", "Fatima")
LAST_NAMES = ("Gonzalez", "Whitfield", "Okafor", "Lindqvist", "Moreau", "Castellano")
TEACHER_STEPS = 120
FLOOR = 0.8  # the tiny student keeps well over 80% of the tiny teacher's macro-F1


def planted_values(index: int) -> dict[str, str]:
    """The synthetic identifiers planted in record ``index`` (all unique per record)."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{index}@example.org",
        "phone": f"(617) 555-{1000 + index:04d}",
    }


def sample_rows(per_label: int) -> list[tuple[str, str, dict[str, str]]]:
    """``(text, label, planted identifiers)`` rows, ``per_label`` of each label."""
    rows = []
    for i in range(per_label):
        for label in LABELS:
            index = len(rows)
            values = planted_values(index)
            phrase = PHRASES[label][i % len(PHRASES[label])].format(n=i)
            text = (
                f"{phrase.capitalize()}. Regards, {values['name']}, {values['phone']}, "
                f"{values['email']}"
            )
            rows.append((text, label, values))
    return rows


def write_sample_csv(path: Path, per_label: int = 80) -> list[str]:
    """Write the sample as ``text,label``; returns every planted identifier value."""
    rows = sample_rows(per_label)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((text, label) for text, label, _ in rows)
    return [value for _, _, values in rows for value in values.values()]


def tiny_teacher() -> Path:
    """The tiny BERT classifier trained on the sample's anonymized records (cached)."""
    return cached_model("gui-sample-teacher", build_teacher, Path(__file__))


def build_teacher(folder: Path) -> Path:
    """Train the tiny classifier on the records as the teacher sees them."""
    import random

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    build_classifier(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    examples = [
        (
            f"{phrase.format(n=i).capitalize()}. Regards, <PERSON_1>, <PHONE_NUMBER_1>, "
            "<EMAIL_ADDRESS_1>",
            LABELS.index(label),
        )
        for label, phrases in PHRASES.items()
        for phrase in phrases
        for i in range(0, 80, 3)
    ]
    rng = random.Random(3)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(TEACHER_STEPS):
        batch = rng.sample(examples, 16)
        encoded = tokenizer([t for t, _ in batch], padding=True, return_tensors="pt")
        loss = model(**encoded, labels=torch.tensor([y for _, y in batch])).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval().save_pretrained(folder)
    return folder


def build_sample_project(path: Path, *, per_label: int = 80) -> Path:
    """Create and run every stage of the sample project at ``path`` (in this process).

    The stages run under ``runs`` rows exactly as the worker runs them, so the GUI shows
    this project as it shows one run from the window.
    """
    from core.anonymize.config import AnonymizeConfig
    from core.data.importer import ImportConfig
    from core.evaluate.config import EvaluateConfig
    from core.export.config import ExportConfig
    from core.jobs.registry import ANONYMIZE, EVALUATE, EXPORT, IMPORT, TEACH, TRAIN
    from core.project import Project, QualityFloor
    from core.teacher.config import TeachConfig
    from core.train.config import TrainConfig

    path = Path(path).resolve()
    floor = QualityFloor(min_retention=FLOOR)
    Project.create(path, task="classification", labels=LABELS, floor=floor).close()
    source = path.parent / f"{path.name}-messages.csv"
    write_sample_csv(source, per_label)
    teacher = tiny_teacher()
    run_in_process(path, IMPORT, ImportConfig(source, "text", label_column="label"))
    run_in_process(path, ANONYMIZE, AnonymizeConfig())
    run_in_process(path, TEACH, TeachConfig(teacher=f"hf:{teacher}", batch_size=64))
    student = TrainConfig(derive=str(teacher), layers=1, epochs=3, batch_size=16, lr=1e-3,
                          checkpoint_every=10, device="cpu")  # fmt: skip
    run_in_process(path, TRAIN, student)
    run_in_process(path, EVALUATE, EvaluateConfig(latency_runs=10))
    run_in_process(path, EXPORT, ExportConfig(out=path / "exports" / "bundle"))
    return path


def run_in_process(project_dir: Path, stage: Stage[Any, Any], config: Any) -> Any:
    """Run one stage under a new ``runs`` row in this process; returns its typed result."""
    from core.jobs.execute import execute_run
    from core.jobs.runs import create_run
    from core.project import Project

    with Project.open(project_dir) as project:
        run_id = create_run(project, stage, config)
        outcome = execute_run(project, run_id, lambda event: None)
    if outcome.status != "succeeded":
        raise RuntimeError(f"the sample's {stage.key} run {run_id} ended {outcome.status}")
    return outcome.result
