"""Out of memory, recognised and answered the same way by every stage and page."""

from __future__ import annotations

OUT_OF_MEMORY_HINT = (
    "lower the batch size or maximum length, turn on LoRA or gradient checkpointing, "
    "or close other programs using the memory"
)


def is_out_of_memory(exc: BaseException) -> bool:
    """A host or GPU allocation failure (torch raises several kinds)."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def halved_batch(batch_size: int, grad_accum: int) -> tuple[int, int]:
    """Half the batch with the accumulation that keeps the effective batch (the same step).

    Returns:
        The new batch size (at least 1) and gradient accumulation.
    """
    half = max(batch_size // 2, 1)
    return half, max(grad_accum * batch_size // half, 1)
