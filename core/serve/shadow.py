"""The shadow, server side: which requests to sample, and the bounded hand-off to the
background worker process (:mod:`core.serve.shadow_worker`) that anonymizes them and asks
the teacher.

The caller's answer never waits for any of it: :meth:`Background.offer` puts the text on a
bounded queue without blocking, and a full queue (a slow or absent teacher) drops the item
and counts it. The worker is another process, so neither Presidio, spaCy nor a local
teacher's torch is ever imported by the server, and a teacher outage cannot slow it down.
Answers come back on a second queue, read by one thread that appends them to the log.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import sys
import threading
from dataclasses import dataclass
from typing import Any

from core.serve.predlog import PredictionLog, utc_now
from core.serve.stats import ServeStats

_STOP_WAIT_S = 10.0


class Sampler:
    """Picks each text for the shadow with probability ``fraction`` (seeded if asked)."""

    def __init__(self, fraction: float, seed: int | None = None) -> None:
        self.fraction = fraction
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self) -> bool:
        if self.fraction <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < self.fraction


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What the background process needs (picklable: it is started with ``spawn``).

    Attributes:
        task: the bundle's task.
        labels: the label order.
        anonymize: the project's anonymization settings as exported (None: the defaults).
        rules: the project's rules file (custom recognizers), as exported, or None.
        keep_anonymized: return every text's anonymized form for the log.
        teacher: the shadow teacher's spec, or None (no shadow).
        teach: the teacher's settings (:class:`~core.teacher.config.TeachConfig` as JSON).
        prompt: the prompt template text for an LLM teacher (None: the task's default).
    """

    task: str
    labels: tuple[str, ...]
    anonymize: dict[str, Any] | None
    rules: bytes | None
    keep_anonymized: bool
    teacher: str | None
    teach: dict[str, Any] | None
    prompt: str | None


class Background:
    """Starts the worker process, feeds it without blocking, logs what it answers."""

    def __init__(
        self, settings: WorkerSettings, *, bound: int, log: PredictionLog, stats: ServeStats
    ) -> None:
        import multiprocessing

        from core.serve.shadow_worker import worker_main

        context = multiprocessing.get_context("spawn")
        self._log, self._stats = log, stats
        self._requests: Any = context.Queue(maxsize=bound)
        self._answers: Any = context.Queue()
        self._process = context.Process(
            target=worker_main, args=(settings, self._requests, self._answers),
            name="stillroom-serve-background", daemon=True,
        )  # fmt: skip
        self._process.start()
        self._receiver = threading.Thread(target=self._receive, name="shadow-answers", daemon=True)
        self._receiver.start()

    def offer(self, request_id: str, item: int, text: str, label: str, *, shadow: bool) -> None:
        """Hand one text to the worker, or drop it (counted) if the queue is full."""
        if shadow:
            self._stats.shadow("sampled")
        try:
            self._requests.put_nowait((request_id, item, text, label, shadow))
        except queue.Full:
            self._stats.shadow("dropped" if shadow else "input_dropped")
            if shadow:
                self._log.append("shadow", (utc_now(), request_id, item, "dropped",
                                            None, None, None, None))  # fmt: skip

    def _receive(self) -> None:
        while True:
            try:
                answer = self._answers.get(timeout=0.5)
            except queue.Empty:
                if not self._process.is_alive():
                    return
                continue
            except (EOFError, OSError):
                return
            if answer is None:
                return
            self._record(answer)

    def _record(self, answer: dict[str, Any]) -> None:
        rid, item = answer["request_id"], answer["item"]
        if answer.get("anonymized") is not None:
            self._log.append("inputs", (rid, item, "anonymized", answer["anonymized"]))
        status = answer.get("status")
        if status is None:
            return
        agrees = answer.get("agrees")
        self._stats.shadow("answered" if status == "answered" else "failed", agreed=bool(agrees))
        probabilities = answer.get("probabilities")
        self._log.append("shadow", (
            utc_now(), rid, item, status, answer.get("label"),
            None if probabilities is None else json.dumps(probabilities),
            answer.get("latency_ms"), None if agrees is None else int(agrees),
        ))  # fmt: skip

    def close(self) -> None:
        """Ask the worker to finish what it has, wait a little, then stop it."""
        with contextlib.suppress(queue.Full, ValueError, OSError):
            self._requests.put(None, timeout=1.0)
        self._process.join(_STOP_WAIT_S)
        if self._process.is_alive():
            sys.stderr.write("stillroom serve: the shadow worker did not stop; ending it\n")
            self._process.terminate()
            self._process.join(2.0)
        self._receiver.join(_STOP_WAIT_S)
        self._requests.cancel_join_thread()
