"""Device and precision choice, peak memory, and what to say when memory runs out."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from core.errors import TrainError, TrainOutOfMemoryError
from core.jobs.memory import halved_batch


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    kind: str  # cpu | cuda
    name: str  # for people and the lineage: "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)"
    precision: str  # fp32 | fp16 | bf16
    world_size: int


def world_size() -> int:
    """Processes in this run: more than 1 under ``torchrun`` / ``accelerate launch``."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def choose_device(device: str, precision: str) -> DeviceChoice:
    """Resolve ``--device`` and ``--precision`` against what this machine has.

    ``cuda:N`` pins the process to GPU N through ``CUDA_VISIBLE_DEVICES``, which CUDA reads
    once, when it starts: so this runs before anything asks torch about CUDA.

    Raises:
        TrainError: CUDA was asked for and is not there, GPU N does not exist, or the
            precision is not available on the device.
    """
    import torch

    if device.startswith("cuda:") and world_size() == 1:
        _pin_gpu(int(device.split(":")[1]))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if device.startswith("cuda") and not use_cuda:
        raise TrainError(
            "no CUDA device is visible to Stillroom",
            "check the driver with nvidia-smi, or train on the CPU with --device cpu",
        )
    kind = "cuda" if use_cuda else "cpu"
    if precision == "auto":
        precision = "bf16" if use_cuda and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "fp16" and kind == "cpu":
        raise TrainError("fp16 training needs a GPU", "use --precision bf16 or fp32 on the CPU")
    if precision == "bf16" and use_cuda and not torch.cuda.is_bf16_supported():
        raise TrainError("this GPU has no bf16", "use --precision fp16 or fp32")
    name = "cpu"
    if use_cuda:
        index = int(os.environ.get("LOCAL_RANK", "0"))
        name = f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return DeviceChoice(kind, name, precision, world_size())


def _pin_gpu(index: int) -> None:
    import torch

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        raise TrainError(
            f"cannot switch to GPU {index}: this process already uses CUDA",
            f"train in a worker (--worker) or set CUDA_VISIBLE_DEVICES={index}",
        )
    ids = [part.strip() for part in visible.split(",")] if visible else None
    if ids is not None and index >= len(ids):
        raise TrainError(f"there is no GPU {index} (CUDA_VISIBLE_DEVICES={visible})",
                         "pick one of the visible GPUs, counted from 0")  # fmt: skip
    os.environ["CUDA_VISIBLE_DEVICES"] = str(index) if ids is None else ids[index]


def reset_peak_memory(kind: str) -> None:
    if kind == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()


def peak_memory_mb(kind: str) -> float:
    """Peak GPU memory allocated by torch, or the process's peak resident set on the CPU."""
    if kind == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def release_memory(kind: str) -> None:
    import gc

    gc.collect()
    if kind == "cuda":
        import torch

        torch.cuda.empty_cache()


def out_of_memory_error(
    *, kind: str, project: str, run_id: str, batch_size: int, grad_accum: int,
    max_length: int, lora: bool, precision: str, retried: bool,
) -> TrainOutOfMemoryError:  # fmt: skip
    """The error for an out-of-memory stop: what was running and what to change."""
    where = "GPU" if kind == "cuda" else "host"
    half, accum = halved_batch(batch_size, grad_accum)
    message = (
        f"training ran out of {where} memory at batch size {batch_size} x max length "
        f"{max_length} ({'LoRA' if lora else 'full fine-tune'}, {precision})"
        + (", even after a retry at half the batch size" if retried else "")
    )
    changes = []
    if batch_size > 1:
        changes.append(
            f"resume at half the batch with twice the accumulation (the same effective "
            f"batch): `stillroom train {project} --resume {run_id} --batch-size {half} "
            f"--grad-accum {accum}` (or add --auto-retry-oom)"
        )
    changes.append(
        "or " * bool(changes) + "lower --max-length, add --gradient-checkpointing"
        + ("" if lora else ", or train adapters only with --lora")
    )  # fmt: skip
    return TrainOutOfMemoryError(message, "; ".join(changes), suggested_batch_size=half)
