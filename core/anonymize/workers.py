"""Detection in several processes: one engine per process, batches in flight, order kept.

Worker processes are started with ``spawn`` (safe with threads and on every OS; the frozen
app's entry point calls ``freeze_support``). Each one installs the egress guard and builds
its own engine once. With one process, detection runs in this process instead.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any

from core.anonymize.detect import Detection, Detector
from core.anonymize.engine import EngineSpec

MAX_DEFAULT_PROCESSES = 4
# Below this many records, starting workers (a few seconds each) costs more than it saves.
MIN_RECORDS_PER_EXTRA_PROCESS = 2500

_detector: Detector | None = None


def default_processes(records: int) -> int:
    """One process per core (at most 4), fewer for small jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = max(1, min(cores or 1, MAX_DEFAULT_PROCESSES))
    return max(1, min(wanted, records // MIN_RECORDS_PER_EXTRA_PROCESS))


def _init_worker(spec: EngineSpec, threshold: float, review_threshold: float) -> None:
    from core import netguard

    netguard.install()
    # Presidio imports transformers and torch for engines this stage never uses: 3 s of
    # start-up per worker. A detection worker has no other use for them, so they are
    # marked missing (Presidio checks for ImportError) unless something already loaded them.
    for name in ("torch", "transformers"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    global _detector
    _detector = Detector(spec, threshold, review_threshold)


def _detect(texts: list[str]) -> list[Detection]:
    assert _detector is not None
    return _detector.detect_batch(texts)


class DetectorPool:
    """Runs :meth:`Detector.detect_batch` over batches, in order, in ``processes`` processes."""

    def __init__(
        self, spec: EngineSpec, threshold: float, review_threshold: float, processes: int
    ) -> None:
        self.processes = processes
        self._local: Detector | None = None
        self._executor: ProcessPoolExecutor | None = None
        if processes <= 1:
            self._local = Detector(spec, threshold, review_threshold)
        else:
            import multiprocessing

            self._executor = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(spec, threshold, review_threshold),
            )

    def run(self, batches: Iterable[Any]) -> Iterator[tuple[Any, list[Detection]]]:
        """Yield ``(key, detections)`` per ``(key, texts)`` batch, in input order."""
        if self._local is not None:
            for key, texts in batches:
                yield key, self._local.detect_batch(texts)
            return
        assert self._executor is not None
        pending: deque[tuple[Any, Future[list[Detection]]]] = deque()
        for key, texts in batches:
            pending.append((key, self._executor.submit(_detect, texts)))
            if len(pending) >= 2 * self.processes:
                done_key, future = pending.popleft()
                yield done_key, future.result()
        while pending:
            done_key, future = pending.popleft()
            yield done_key, future.result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> DetectorPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
