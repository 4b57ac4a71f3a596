"""What ``stillroom serve`` delivers on this machine, against the raw ONNX Runtime session.

Run: ``.venv/bin/python bench/serve_bench.py --bundle BUNDLE [--project DIR] [--json FILE]``
(the demo's bundle: ``stillroom demo --dir D`` writes ``D/exports/triage-bundle``; texts are
the project's anonymized records with ``--project``, else the bundle's probe texts).

In one run, on loopback, every loop bounded in count and time:

1. raw session (the server's own :class:`~core.serve.served.ServedModel`, same threads):
   batch 1 in a loop (texts/s, p50/p99 per call), and batches of 1, 8 and 32 on the
   server's ``workers`` threads at once; the best texts/s of these is the limit;
2. the server at concurrency 1, 8, 32, 64 (closed loop, ``--requests`` each): requests/s,
   p50, p99, errors, seen by the client;
3. ``--soak`` requests at concurrency 32 on a fresh server, then Ctrl-C: errors and log rows
   lost (answered 200 but not in the prediction log);
4. caller p99 at concurrency 8 without a shadow, with the shadow teacher down (nothing
   listens) and with it answering in 2 s (a scripted fake OpenAI server), ``--fraction``.

The load generator (httpx, asyncio) runs on the same cores as the server: on a 2-core machine
it takes a good share of them, so the server figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "core" / "serve"),
                str(ROOT / "tests" / "core" / "teacher")]  # fmt: skip

from fake_openai_server import FakeOpenAIServer, ScriptedBackend, Switches  # noqa: E402
from serve_helpers import running_server  # noqa: E402

from core.export.integrity import load_verified_bundle  # noqa: E402
from core.serve.config import ServeConfig  # noqa: E402
from core.serve.predlog import rows  # noqa: E402
from core.serve.served import load_served  # noqa: E402
from core.serve.server import free_port  # noqa: E402


def _texts(bundle: Path, project: Path | None, limit: int = 4000) -> list[str]:
    if project is not None:
        with sqlite3.connect(f"file:{project / 'stillroom.db'}?mode=ro", uri=True) as conn:
            found = [r[0] for r in conn.execute("SELECT text FROM anonymized LIMIT ?", (limit,))]
        if found:
            return found
    probes = json.loads((bundle / "probes.json").read_text())
    return [str(t) for t in probes["inputs"]]


def _stats(latencies: list[float], seconds: float, count: int) -> dict[str, float]:
    values = np.asarray(latencies) * 1000
    p50, p99 = (round(float(np.percentile(values, q)), 2) for q in (50, 99))
    return {"per_s": round(count / seconds, 1), "p50_ms": p50, "p99_ms": p99}


def raw_session(bundle: Path, texts: list[str], sizes: tuple[int, ...]) -> dict[str, Any]:
    """The server's own model and session settings, without the server: batch 1 in one
    loop, then batches of each size on ``workers`` threads at once, as the server runs them."""
    config = ServeConfig(bundle=bundle)
    out: dict[str, Any] = {}
    with load_verified_bundle(bundle) as verified:
        model = load_served(verified, config)
        model.probabilities(texts[:64], 8)  # warm up
        single, start = [], time.perf_counter()
        for text in texts[:600]:
            t0 = time.perf_counter()
            model.probabilities([text], 1)
            single.append(time.perf_counter() - t0)
        out["batch_1_loop"] = _stats(single, time.perf_counter() - start, len(single))
        for size in sizes:
            out[f"batch_{size}_x{config.workers}"] = _batched(model, texts, size, config.workers)
    out["limit_per_s"] = max(v["per_s"] for v in out.values())
    return out


def _batched(model: Any, texts: list[str], size: int, workers: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    chunks = [texts[i : i + size] for i in range(0, min(len(texts), 2048), size)]

    def timed(chunk: list[str]) -> float:
        t0 = time.perf_counter()
        model.probabilities(chunk, size)
        return time.perf_counter() - t0

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        latencies = list(pool.map(timed, chunks))
    return _stats(latencies, time.perf_counter() - start, sum(len(c) for c in chunks))


async def _load(url: str, texts: list[str], concurrency: int, requests: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                "data": [texts[i % len(texts)]]}]}  # fmt: skip
            t0 = time.perf_counter()
            try:
                answer = await client.post(url, json=body)
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return {**_stats(latencies, seconds, len(latencies)), "errors": errors,
            "requests": len(latencies)}  # fmt: skip


def load(url: str, texts: list[str], concurrency: int, requests: int) -> dict[str, Any]:
    return asyncio.run(_load(url, texts, concurrency, requests))


def server_sweep(bundle: Path, work: Path, texts: list[str], args: Any) -> dict[str, Any]:
    out = {}
    with running_server(bundle, work / "sweep", "--max-batch-size", str(args.max_batch)) as srv:
        load(srv.infer_url(_name(bundle)), texts, 8, 200)  # warm up
        for concurrency in (1, 8, 32, 64):
            out[f"c{concurrency}"] = load(srv.infer_url(_name(bundle)), texts, concurrency,
                                          args.requests)  # fmt: skip
    return out


def soak(bundle: Path, work: Path, texts: list[str], requests: int) -> dict[str, Any]:
    with running_server(bundle, work / "soak") as srv:
        result = load(srv.infer_url(_name(bundle)), texts, 32, requests)
    logged = sum(1 for _ in rows(srv.log_dir))
    answered = result["requests"] - result["errors"]
    return {**result, "log_rows": logged, "lost_rows": answered - logged}


def _slow_teacher(conn: Any) -> None:
    """A fake OpenAI endpoint answering in 2 s, in its own process: in the load generator's
    process its threads would take the GIL from the client and inflate what it measures."""
    fake = FakeOpenAIServer(ScriptedBackend(), Switches(model_name="t", latency_s=2.0))
    fake.start()
    conn.send(fake.port)
    while True:
        time.sleep(3600)


def shadow(bundle: Path, work: Path, texts: list[str], args: Any) -> dict[str, Any]:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    slow = context.Process(target=_slow_teacher, args=(send,), daemon=True)
    slow.start()
    port = receive.recv()
    teachers = {"none": None, "down": f"http://127.0.0.1:{free_port()}/v1",
                "slow_2s": f"http://127.0.0.1:{port}/v1"}  # fmt: skip
    out = {}
    try:
        for name, url in teachers.items():
            extra = () if url is None else (
                "--shadow-teacher", f"openai:{url}", "--shadow-model", "t",
                "--shadow-fraction", str(args.fraction), "--seed", "1")  # fmt: skip
            with running_server(bundle, work / f"shadow-{name}", *extra) as srv:
                time.sleep(args.settle)  # the background worker loads Presidio and spaCy
                load(srv.infer_url(_name(bundle)), texts, 8, 200)
                out[name] = load(srv.infer_url(_name(bundle)), texts, 8, args.shadow_requests)
            shadows = [r["shadow"]["status"] for r in rows(srv.log_dir) if r["shadow"]]
            out[name]["shadow"] = {s: shadows.count(s) for s in sorted(set(shadows))}
    finally:
        slow.terminate()
        slow.join(10)
    base = out["none"]["p99_ms"]
    for name in ("down", "slow_2s"):
        out[name]["p99_change"] = round(out[name]["p99_ms"] / base - 1, 3)
    return out


def _name(bundle: Path) -> str:
    return str(json.loads((bundle / "manifest.json").read_text())["name"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--project", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/stillroom-serve-bench"))
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--soak", type=int, default=20_000)
    parser.add_argument("--shadow-requests", type=int, default=3000)
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--phases", default="raw,server,soak,shadow",
                        help="which parts to run (comma-separated)")  # fmt: skip
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = _texts(args.bundle, args.project)
    args.work.mkdir(parents=True, exist_ok=True)
    phases = {
        "raw": lambda: raw_session(args.bundle, texts, (1, 8, 32)),
        "server": lambda: server_sweep(args.bundle, args.work, texts, args),
        "soak": lambda: soak(args.bundle, args.work, texts, args.soak),
        "shadow": lambda: shadow(args.bundle, args.work, texts, args),
    }
    report: dict[str, Any] = {"texts": len(texts)}
    for name in args.phases.split(","):
        report[name] = phases[name]()
        print(json.dumps(report[name]), flush=True)
    if "raw" in report and "server" in report:
        limit = report["raw"]["limit_per_s"]
        report["c32_share_of_raw_limit"] = round(report["server"]["c32"]["per_s"] / limit, 3)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
