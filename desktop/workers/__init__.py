"""Background work seen from the window: stage runs in the worker process (DESIGN §5)."""

from desktop.workers.stage_worker import StageWorker

__all__ = ["StageWorker"]
