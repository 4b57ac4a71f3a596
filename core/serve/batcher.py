"""Batching concurrent requests into one forward pass, inside the model class.

Why not MLServer's adaptive batcher: it merges requests by input name before the model
sees them, so one malformed request fails every request batched with it, and the model gets
one merged request without the callers' ids (one log row per caller needs them). Here each
request is checked alone first (:mod:`core.serve.runtime`), then its texts join a batch.

The policy is timer-free: a batch starts as soon as a compute slot (``workers``) is free,
taking every text queued by then up to ``max_batch``. Alone, a request runs at once (no
added wait); under load, requests queue while the slots are busy, so batches grow with the
load. ONNX Runtime releases the GIL, so the event loop keeps parsing requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_Pending = tuple[Sequence[str], "asyncio.Future[FloatArray]"]


class MicroBatcher:
    """Runs ``compute(texts) -> rows`` on batches drawn from concurrent :meth:`submit` calls."""

    def __init__(
        self,
        compute: Callable[[list[str]], FloatArray],
        *,
        workers: int,
        max_batch: int,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._compute = compute
        self._workers, self._max_batch = workers, max_batch
        self._on_batch = on_batch
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="stillroom-infer")
        self._pending: deque[_Pending] = deque()
        self._wakeup: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, texts: Sequence[str]) -> FloatArray:
        """The rows ``compute`` gives for ``texts``, computed in a shared batch.

        Raises:
            Exception: whatever ``compute`` raised for the batch.
        """
        loop = asyncio.get_running_loop()
        if self._dispatcher is None or self._dispatcher.done():
            # Created in the serving loop (asyncio objects belong to the loop that made them).
            self._wakeup, self._slots = asyncio.Event(), asyncio.Semaphore(self._workers)
            self._dispatcher = loop.create_task(self._dispatch())
        future: asyncio.Future[FloatArray] = loop.create_future()
        self._pending.append((texts, future))
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def _dispatch(self) -> None:
        assert self._wakeup is not None
        assert self._slots is not None
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._slots.acquire()
            batch = [self._pending.popleft()]
            size = len(batch[0][0])
            while self._pending and size + len(self._pending[0][0]) <= self._max_batch:
                item = self._pending.popleft()
                batch.append(item)
                size += len(item[0])
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Pending]) -> None:
        assert self._slots is not None
        texts = [text for texts, _ in batch for text in texts]
        try:
            if self._on_batch is not None:
                self._on_batch(len(texts))
            loop = asyncio.get_running_loop()
            rows = await loop.run_in_executor(self._executor, self._compute, texts)
        except Exception as exc:  # noqa: BLE001 — handed to every caller of the batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            start = 0
            for texts_, future in batch:
                if not future.done():
                    future.set_result(rows[start : start + len(texts_)])
                start += len(texts_)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Stop the dispatcher and the compute threads (after the running batches)."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
