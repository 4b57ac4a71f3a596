"""Import speed and memory on a generated 1,000,000-row CSV.

Run: ``.venv/bin/python bench/import_bench.py [--rows N] [--keep DIR]``

Prints the generation time, the import's wall time, rows per second, and the peak resident
memory: the process peak from ``getrusage`` and the peak sampled every 50 ms during the
import (psutil if installed, else ``/proc/self/status``), next to the RSS before it.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data import ImportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.project import Project, QualityFloor
from core.reporter import NullReporter

LABELS = ("billing", "clinical", "other")
PHRASE = (
    "patient reports mild pain after the procedure, follow-up scheduled invoice overdue "
    "payment plan requested insurance claim denied appointment moved to next week, please "
    "confirm the prescription refill was sent to the pharmacy on file"
)
WORDS = PHRASE.split(" ")


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` rows of 60-200 characters, unique per row, some quoted with commas."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label"])
        for index in range(rows):
            target = rng.randint(60, 200)
            words = [f"ticket-{index:07d}"]
            length = len(words[0])
            while length < target:
                word = rng.choice(WORDS)
                words.append(word)
                length += len(word) + 1
            text = " ".join(words)[:target]
            writer.writerow([index, text, LABELS[rng.randrange(3)]])


def rss_bytes() -> int:
    """The current resident set size."""
    try:
        import psutil
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0
    return int(psutil.Process().memory_info().rss)


class PeakSampler(threading.Thread):
    """Samples the RSS every ``interval`` seconds until stopped; keeps the peak."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = rss_bytes()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_bytes())
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / "bench.csv"
        started = time.perf_counter()
        generate(source, args.rows)
        generated = time.perf_counter() - started
        size_mb = source.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({size_mb:.1f} MB) in {generated:.1f} s")
        project = Project.create(folder / "project", task="classification", floor=QualityFloor(0.9))
        config = ImportConfig(source=source, text_column="text", label_column="label")
        before = rss_bytes()
        sampler = PeakSampler()
        sampler.start()
        started = time.perf_counter()
        result = run_stage(project, IMPORT, config, reporter=NullReporter())
        wall = time.perf_counter() - started
        peak = sampler.stop()
        project.close()
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"imported {result.rows_imported:,} of {result.rows_read:,} rows in {wall:.1f} s")
    print(f"throughput: {result.rows_read / wall:,.0f} rows/s")
    print(
        f"RSS before import: {before / 2**20:.0f} MiB; sampled peak during import: "
        f"{peak / 2**20:.0f} MiB (+{(peak - before) / 2**20:.0f} MiB)"
    )
    print(f"ru_maxrss (whole process): {max_rss_kib / 1024:.0f} MiB")
    print(f"split: {result.split_counts}; edge reasons: {result.edge_reasons}")


if __name__ == "__main__":
    main()
