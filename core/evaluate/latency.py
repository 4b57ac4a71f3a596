"""Speed: latency percentiles at batch 1 and throughput at batch 32, per model and device.

Timings are wall-clock over real test texts (cycled), after warm-up runs, with the CUDA
queue synchronised before each clock read. The CPU thread count is recorded with every
figure: on a shared workstation it is the first thing a reader must know.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import cycle, islice

import numpy as np

from core.evaluate.scorers import Scorer

THROUGHPUT_BATCH = 32
_WARMUP = 2


@dataclass(frozen=True, slots=True)
class Latency:
    """One model's speed on one device."""

    model: str
    device: str  # cpu | cuda
    device_name: str
    threads: int
    p50_ms: float
    p95_ms: float
    throughput_per_s: float
    runs: int
    batch: int = THROUGHPUT_BATCH
    title: str = ""


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` PyTorch CPU threads (None: leave it), then restore."""
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def measure(scorer: Scorer, texts: Sequence[str], *, runs: int) -> list[Latency]:
    """Time ``scorer`` on every device it supports; it is left on the CPU afterwards.

    Raises:
        ValueError: no texts or fewer than one run.
    """
    if not texts or runs < 1:
        raise ValueError("latency needs texts and at least one run")
    results = [_on_device(scorer, texts, device, runs) for device in scorer.devices()]
    scorer.use_device("cpu")
    return results


def _on_device(scorer: Scorer, texts: Sequence[str], device: str, runs: int) -> Latency:
    import torch

    scorer.use_device(device)
    sync = torch.cuda.synchronize if device == "cuda" else _no_sync
    singles = list(islice(cycle(texts), runs + _WARMUP))
    for text in singles[:_WARMUP]:
        scorer.run([text])
    timings = []
    for text in singles[_WARMUP:]:
        sync()
        start = time.perf_counter()
        scorer.run([text])
        sync()
        timings.append((time.perf_counter() - start) * 1000)
    batches = max(2, math.ceil(runs / 10))
    batch_texts = list(islice(cycle(texts), THROUGHPUT_BATCH * (batches + 1)))
    scorer.run(batch_texts[:THROUGHPUT_BATCH])  # warm-up at the larger shape
    sync()
    start = time.perf_counter()
    for b in range(1, batches + 1):
        scorer.run(batch_texts[b * THROUGHPUT_BATCH : (b + 1) * THROUGHPUT_BATCH])
    sync()
    elapsed = time.perf_counter() - start
    return Latency(
        model=scorer.name,
        device=device,
        device_name=_device_name(device),
        threads=torch.get_num_threads(),
        p50_ms=float(np.percentile(timings, 50)),
        p95_ms=float(np.percentile(timings, 95)),
        throughput_per_s=batches * THROUGHPUT_BATCH / elapsed if elapsed > 0 else 0.0,
        runs=runs,
        title=scorer.title,
    )


def _device_name(device: str) -> str:
    import platform

    import torch

    if device == "cuda":
        return str(torch.cuda.get_device_name(0))
    try:  # Linux names the CPU model here; platform.processor() is often empty there
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _no_sync() -> None:
    return None
