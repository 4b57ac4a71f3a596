"""Talking to a flaky endpoint politely: backoff with jitter, a circuit breaker, a rate limit.

All three are asyncio-friendly and single-threaded (one event loop runs every request), so
they need no locks.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

MAX_BACKOFF_S = 30.0
MAX_COOLDOWN_S = 30.0


def backoff_delay(
    attempt: int,
    base_s: float,
    *,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry).

    Exponential backoff with full jitter (uniform in ``[0, base·2^(attempt-1)]``, capped),
    so that many clients hit by the same outage do not come back in lockstep; a server's
    ``Retry-After`` is a lower bound.
    """
    ceiling = min(MAX_BACKOFF_S, base_s * 2 ** max(attempt - 1, 0))
    delay = (rng or random).uniform(0.0, ceiling)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_BACKOFF_S))
    return delay


class BreakerGaveUp(Exception):
    """The breaker opened too many times in a row without a single success."""


class CircuitBreaker:
    """Stops hammering an endpoint that keeps failing.

    After ``threshold`` consecutive failures the breaker opens: nobody sends for a cooldown
    (doubling each time it reopens). Then one probe request is let through (half-open); its
    success closes the breaker, its failure reopens it. After ``max_trips`` openings without
    any success in between, :meth:`acquire` raises :class:`BreakerGaveUp`.
    """

    def __init__(
        self,
        threshold: int,
        cooldown_s: float,
        max_trips: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold, self._cooldown, self._max_trips = threshold, cooldown_s, max_trips
        self._clock = clock
        self._failures = 0
        self._trips = 0
        self._open_until: float | None = None
        self._probing = False
        self.opened = 0  # total openings, for the result

    @property
    def state(self) -> str:
        if self._open_until is None:
            return "closed"
        return "half-open" if self._probing else "open"

    async def acquire(self) -> None:
        """Wait until a request may be sent.

        Raises:
            BreakerGaveUp: the endpoint failed through ``max_trips`` openings.
        """
        while True:
            if self._trips > self._max_trips:
                raise BreakerGaveUp
            if self._open_until is None:
                return
            now = self._clock()
            if now < self._open_until:
                await asyncio.sleep(self._open_until - now)
            elif not self._probing:
                self._probing = True
                return
            else:
                await asyncio.sleep(min(0.05, self._cooldown))

    def record_success(self) -> None:
        self._failures = self._trips = 0
        self._open_until = None
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or (self._open_until is None and self._failures >= self._threshold):
            self._trips += 1
            self.opened += 1
            pause = min(MAX_COOLDOWN_S, self._cooldown * 2 ** (self._trips - 1))
            self._open_until = self._clock() + pause
            self._probing = False


class RateLimiter:
    """At most ``rate`` request starts per second, evenly spaced (no bursts)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 0.0 if not rate else 1.0 / rate
        self._clock = clock
        self._next = 0.0

    async def acquire(self) -> None:
        if not self._interval:
            return
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)
