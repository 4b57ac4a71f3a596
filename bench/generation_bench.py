"""A clinical-note summariser distilled end to end, offline, through the CLI.

Seeded synthetic notes (``bench/clinical_notes.py``: names, MRNs, phones; a reference
summary each) are imported, anonymized and used to fine-tune SmolLM2-135M-Instruct on the
references: that model is the teacher. It then writes (with token log-probabilities) a
summary of every note, and students derived from it by keeping fewer layers are distilled
(full fine-tune; SFT alone or SFT + token-level KL), evaluated, and the best is exported and
its bundle asked for a summary. Reported in one run: teacher vs student ROUGE-L on held-out
notes, retention with its interval, the shipped file's ROUGE-L and greedy match vs PyTorch,
tokens/s and time to first token at batch 1 (PyTorch fp32 teacher vs the shipped student),
sizes, and whether token-level KL beat SFT alone.

    .venv/bin/python bench/generation_bench.py --notes 100 --students 12:kl,12:sft

``--teacher DIR`` skips fine-tuning the teacher; with ``--work`` naming an earlier run's
folder whose project was already taught by ``hf:DIR``, import, anonymization and teaching
are reused too (only the students are trained, evaluated and exported).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def cli(*argv: Any) -> dict[str, Any]:
    """One ``stillroom`` command in this process; its --json result."""
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv] + ["--json"])
    seconds = time.perf_counter() - started
    print(f"  {argv[0]:<9} {seconds:7.1f} s  (exit {code})", flush=True)
    if code not in (0, 1):
        raise SystemExit(f"{argv[0]} failed: {err.getvalue()[-2000:]}")
    return dict(json.loads(out.getvalue()), seconds=seconds)


def _row(result: dict[str, Any], split: str, model: str) -> dict[str, Any] | None:
    return next((r for r in result["headline"] if r["split"] == split and r["model"] == model),
                None)  # fmt: skip


def _ci(row: dict[str, Any] | None, key: str) -> str:
    if row is None or row.get(key) is None:
        return "—"
    ci = row.get(f"{key}_ci")
    band = f" [{ci['low']:.3f}, {ci['high']:.3f}]" if ci else ""
    return f"{row[key]:.3f}{band}"


def pytorch_speed(folder: Path, prompts: list[str], new_tokens: int) -> tuple[float, float]:
    """tokens/s and time to first token (s) at batch 1, greedy, PyTorch fp32 on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    rates, firsts = [], []
    for prompt in prompts:
        messages = [{"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            started = time.perf_counter()
            model(**ids)
            firsts.append(time.perf_counter() - started)
            started = time.perf_counter()
            out = model.generate(**ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                 do_sample=False, pad_token_id=tokenizer.eos_token_id)  # fmt: skip
            rates.append(
                (out.shape[1] - ids["input_ids"].shape[1]) / (time.perf_counter() - started)
            )
    return statistics.median(rates), statistics.median(firsts)


def onnx_speed(bundle: Path, prompts: list[str], new_tokens: int) -> tuple[float, float]:
    """The same figures for the bundle's model.onnx through the serving runtime."""
    from core.export.runtime_causal import OnnxCausalLM

    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    runner = OnnxCausalLM.from_bundle(bundle, manifest)
    rates, firsts = [], []
    for prompt in prompts:
        ids = runner.encode(prompt)
        started = time.perf_counter()
        runner.next_logits(ids)
        firsts.append(time.perf_counter() - started)
        started = time.perf_counter()
        out = runner.generate_ids(ids, new_tokens)
        rates.append(len(out) / (time.perf_counter() - started))
    return statistics.median(rates), statistics.median(firsts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--students", default="12:kl,12:sft", help="layers:kl|sft, ...")
    parser.add_argument("--teacher-epochs", default="3")
    parser.add_argument("--student-epochs", default="4")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--split", default="0.5,0.1,0.4")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--teacher", type=Path, default=None,
                        help="a fine-tuned teacher folder (not retrained)")  # fmt: skip
    parser.add_argument("--lr", default="1e-4", help="the students' learning rate")
    parser.add_argument("--trained", action="append", default=[], metavar="SPEC=DIR",
                        help="reuse a trained student of --students (24:kl=RUN/student): "
                             "it is evaluated and exported, not retrained")  # fmt: skip
    args = parser.parse_args()

    from core import netguard

    netguard.install()
    started = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="generation-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    project = work / "project"
    common = ("--max-length", str(args.max_length), "--batch-size", "4")
    taught = _taught(project, args.teacher)
    if taught is None:
        teacher_dir, taught = _teacher(args, work, project, common)
    else:
        teacher_dir = args.teacher
        print(f"reusing {project} and its teacher outputs from {teacher_dir}")
    print(f"  teacher ROUGE-L vs references: {taught['accuracy']}")
    evaluated = {}
    reused = dict(item.split("=", 1) for item in args.trained)
    for spec in args.students.split(","):
        layers, kind = spec.split(":")
        alpha = "0" if kind == "sft" else "0.5"
        if spec in reused:
            student_dir = reused[spec]
            print(f"  reusing the trained student {spec} in {student_dir}")
        else:
            student_dir = cli("train", project, "--derive", teacher_dir, "--layers", layers,
                              "--teacher-id", taught["teacher_id"], "--alpha", alpha,
                              "--lr", args.lr, "--epochs", args.student_epochs,
                              *common)["model_dir"]  # fmt: skip
        evaluated[spec] = cli("evaluate", project, "--student", student_dir,
                              "--max-new-tokens", str(args.max_new_tokens),
                              "--latency-runs", "3", "--no-baseline")  # fmt: skip
    best = max(evaluated, key=lambda s: _row(evaluated[s], "test", "student")["metric"])
    bundle = work / "bundle"
    exported = cli("export", project, "--student", evaluated[best]["student_dir"], "--out",
                   bundle, "--override-floor", "benchmark run", "--force")  # fmt: skip
    report(args, project, taught, evaluated, best, exported, teacher_dir, bundle)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


def _taught(project: Path, teacher: Path | None) -> dict[str, Any] | None:
    """The latest teach result of ``project`` by ``hf:teacher``, to reuse; None if none."""
    import sqlite3

    if teacher is None or not (project / "stillroom.db").is_file():
        return None
    with sqlite3.connect(project / "stillroom.db") as conn:
        rows = conn.execute("SELECT config, result FROM runs WHERE stage = 'teach' AND "
                            "status = 'succeeded' ORDER BY created DESC").fetchall()  # fmt: skip
    for config, result in rows:
        if json.loads(config).get("teacher") == f"hf:{teacher}":
            return dict(json.loads(result))
    return None


def _teacher(
    args: Any, work: Path, project: Path, common: tuple[str, ...]
) -> tuple[Path, dict[str, Any]]:
    """A new project: notes imported and anonymized, the teacher fine-tuned (unless
    ``--teacher``), then its summaries and token log-probabilities stored."""
    from clinical_notes import clinical_notes, write_csv

    from core.teacher.models import smollm2_folder

    data = work / "notes.csv"
    notes = clinical_notes(args.notes, args.seed)
    write_csv(notes, data)
    print(f"{len(notes)} notes (seed {args.seed}) in {work}")
    cli("init", project, "--task", "generation", "--floor", "0.9")
    cli("import", project, data, "--text", "note", "--label", "summary", "--split", args.split)
    cli("anonymize", project)
    if args.teacher is None:
        cli("teach", project, "--teacher", "labels")
        tuned = cli("train", project, "--student", smollm2_folder(), "--epochs",
                    args.teacher_epochs, "--lr", "1e-4", *common)  # fmt: skip
        teacher_dir = Path(tuned["model_dir"])
    else:
        teacher_dir = args.teacher
    # The built-in summary prompt: the one the teacher was fine-tuned with.
    taught = cli("teach", project, "--teacher", f"hf:{teacher_dir}",
                 "--max-new-tokens", str(args.max_new_tokens), "--batch-size", "8")  # fmt: skip
    return teacher_dir, taught


def report(
    args: Any, project: Path, taught: dict[str, Any], evaluated: dict[str, Any], best: str,
    exported: dict[str, Any], teacher_dir: Path, bundle: Path,
) -> None:  # fmt: skip
    from core.export.predict import predict

    print("\nheld-out test notes (ROUGE-L, retention [95% interval where measured])")
    for spec, result in evaluated.items():
        teacher, student = _row(result, "test", "teacher"), _row(result, "test", "student")
        print(f"  student {spec:<7} ROUGE-L {_ci(student, 'metric')}  retention "
              f"{_ci(student, 'retention')}  (teacher {_ci(teacher, 'metric')}, "
              f"{student['rows'] if student else 0} rows, "
              f"reference {result['reference']})")  # fmt: skip
    kl = [s for s in evaluated if s.endswith(":kl")]
    for spec in kl:
        sft = spec.replace(":kl", ":sft")
        if sft in evaluated:
            a = _row(evaluated[spec], "test", "student")["metric"]
            b = _row(evaluated[sft], "test", "student")["metric"]
            print(
                f"  token-level KL vs SFT alone at {spec.split(':')[0]} layers: "
                f"{a:.3f} vs {b:.3f} ({'KL better' if a > b else 'SFT as good or better'})"
            )
    print(
        f"\nshipped: student {best}, {exported['precision']} "
        f"({exported['model_bytes'] / 1e6:.0f} MB; fp32 {exported['fp32_bytes'] / 1e6:.0f} MB)"
    )
    for v in exported["parity"]["variants"]:
        print(
            f"  {v['variant']:<10} next-token agreement {v['agreement']:.3f}  greedy match "
            f"{v['metric']:.3f}  max |dlogit| {v['max_abs_diff']:.3f}"
        )
    for row in exported["shipped_rows"]:
        pytorch = _row(evaluated[best], row["split"], "student")
        print(
            f"  shipped file, {row['split']}: ROUGE-L {row['metric']:.3f} (PyTorch student "
            f"{pytorch['metric'] if pytorch else float('nan'):.3f}), retention "
            f"{row['retention'] if row['retention'] is not None else float('nan'):.3f}"
        )
    import sqlite3

    with sqlite3.connect(project / "stillroom.db") as conn:
        test = [t for (t,) in conn.execute(
            "SELECT a.text FROM anonymized a JOIN records r ON r.id = a.record_id "
            "WHERE r.split = 'test' ORDER BY r.id LIMIT 5")]  # fmt: skip
    teacher_rate, teacher_first = pytorch_speed(teacher_dir, test, 32)
    rate, first = onnx_speed(bundle, test, 32)
    print(
        f"\nbatch 1, 32 new tokens: PyTorch fp32 teacher {teacher_rate:.1f} tok/s, first token "
        f"{teacher_first * 1000:.0f} ms; shipped student {rate:.1f} tok/s, first token "
        f"{first * 1000:.0f} ms ({rate / teacher_rate:.2f}x tokens/s)"
    )
    print(
        f"teacher size {sum(p.stat().st_size for p in teacher_dir.glob('*.safetensors')) / 1e6:.0f}"
        f" MB (safetensors)"
    )
    answer = predict(bundle, [test[0]], max_new_tokens=args.max_new_tokens)
    print(f"\nan anonymized held-out note: {test[0]!r}")
    print(f"predict's summary of it:     {answer.generations[0]!r}")


if __name__ == "__main__":
    main()
