"""The server's live counters: for Prometheus (``/metrics``), the Deploy page and the result.

One :class:`ServeStats` per server; it is updated from the event loop (requests) and from the
thread that receives shadow answers, so each update takes a lock. The Prometheus metrics are
created on the ``prometheus_client`` default registry, which MLServer's metrics server
exports; created once per process (a second server in the same process reuses them).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_WINDOW = 4096  # latencies kept for p50/p99 (the most recent requests)
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_METRICS: dict[str, Any] = {}


def _prometheus() -> dict[str, Any]:
    """The Stillroom metrics (created on first use)."""
    if not _METRICS:
        from prometheus_client import Counter, Histogram

        _METRICS.update(
            requests=Counter("stillroom_requests", "Infer requests answered", ["model"]),
            errors=Counter("stillroom_errors", "Infer requests refused or failed",
                           ["model", "kind"]),
            latency=Histogram("stillroom_request_latency_seconds",
                              "Server-side infer latency", ["model"], buckets=_LATENCY_BUCKETS),
            batch=Histogram("stillroom_batch_size", "Texts per forward pass", ["model"],
                            buckets=_BATCH_BUCKETS),
            shadow=Counter("stillroom_shadow", "Shadow teacher calls by outcome",
                           ["model", "outcome"]),
            log_rows=Counter("stillroom_log_rows", "Prediction log rows written", ["model"]),
        )  # fmt: skip
    return _METRICS


@dataclass
class ServeStats:
    """Counters since the server started."""

    model: str
    requests: int = 0
    errors: int = 0
    shadow_sampled: int = 0
    shadow_answered: int = 0
    shadow_agreed: int = 0
    shadow_dropped: int = 0
    shadow_failed: int = 0
    inputs_dropped: int = 0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, latency_ms: float) -> None:
        with self._lock:
            self.requests += 1
            self.latencies_ms.append(latency_ms)
        metrics = _prometheus()
        metrics["requests"].labels(self.model).inc()
        metrics["latency"].labels(self.model).observe(latency_ms / 1000)

    def refused(self, kind: str) -> None:
        with self._lock:
            self.errors += 1
        _prometheus()["errors"].labels(self.model, kind).inc()

    def batch(self, size: int) -> None:
        _prometheus()["batch"].labels(self.model).observe(size)

    def logged(self, rows: int) -> None:
        _prometheus()["log_rows"].labels(self.model).inc(rows)

    def shadow(self, outcome: str, *, agreed: bool = False) -> None:
        """Count one shadow outcome: ``sampled``, ``dropped``, ``answered`` or ``failed``."""
        with self._lock:
            if outcome == "sampled":
                self.shadow_sampled += 1
            elif outcome == "dropped":
                self.shadow_dropped += 1
            elif outcome == "answered":
                self.shadow_answered += 1
                self.shadow_agreed += agreed
            elif outcome == "input_dropped":
                self.inputs_dropped += 1
            else:
                self.shadow_failed += 1
        _prometheus()["shadow"].labels(self.model, outcome).inc()
        if outcome == "answered" and agreed:
            _prometheus()["shadow"].labels(self.model, "agreed").inc()

    def percentiles(self) -> tuple[float, float]:
        """(p50, p99) in ms of the recent requests; zeros before the first."""
        with self._lock:
            values = np.fromiter(self.latencies_ms, dtype=np.float64)
        if values.size == 0:
            return 0.0, 0.0
        p50, p99 = np.percentile(values, [50, 99])
        return round(float(p50), 3), round(float(p99), 3)

    @property
    def agreement(self) -> float | None:
        """Share of shadow answers that agree with the student; None before the first."""
        with self._lock:
            if not self.shadow_answered:
                return None
            return self.shadow_agreed / self.shadow_answered

    def snapshot(self) -> dict[str, float]:
        """Every counter as ``serve.<name>`` → number (what the Deploy page shows)."""
        p50, p99 = self.percentiles()
        agreement = self.agreement
        return {
            "serve.requests": self.requests,
            "serve.errors": self.errors,
            "serve.p50_ms": p50,
            "serve.p99_ms": p99,
            "serve.shadow_sampled": self.shadow_sampled,
            "serve.shadow_answered": self.shadow_answered,
            "serve.shadow_agreement": -1.0 if agreement is None else round(agreement, 4),
            "serve.shadow_dropped": self.shadow_dropped,
            "serve.shadow_failed": self.shadow_failed,
        }
