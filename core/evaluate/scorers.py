"""A model column in the evaluation is a *scorer*: anything that turns texts into logits
(classification) or text (generation) and can be timed on a device.

This module holds the protocol and the PyTorch scorers for local Hugging Face folders, the
student's and a local classifier teacher's, optionally dynamically quantized to INT8 (the
"quantize only" baseline). The export stage adds an ONNX Runtime scorer with the same shape.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import EvaluateError
from core.evaluate.metrics import FloatArray

_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx")
_LOAD_FAILURES = (OSError, ValueError, KeyError, RuntimeError, ImportError, TypeError)


class Scorer(Protocol):
    """One model column of the evaluation."""

    name: str  # column key: student, teacher, teacher_int8, student_onnx_int8
    title: str  # for people: "student (PyTorch FP32)"
    warnings: list[str]

    def devices(self) -> list[str]:
        """Devices it can be timed on, CPU first (``cpu``, ``cuda``)."""

    def use_device(self, device: str) -> None:
        """Move to ``device`` for what follows."""

    def run(self, texts: Sequence[str]) -> Any:
        """One forward pass (classification) or generation (generation) on a batch."""

    def size_bytes(self) -> int:
        """The model's weights on disk (or serialised, for an in-memory quantized model)."""

    def close(self) -> None:
        """Release the model."""


class ClassifierScorer(Scorer, Protocol):
    def logits(self, texts: Sequence[str], batch_size: int) -> FloatArray:
        """Logits in the project's label order, one row per text."""


class HFClassifierScorer:
    """A local ``*ForSequenceClassification`` folder, in FP32 or dynamic INT8 (CPU)."""

    def __init__(
        self,
        folder: Path,
        labels: tuple[str, ...],
        *,
        name: str,
        quantize: bool = False,
        max_length: int = 512,
    ) -> None:
        """Load the model and match its outputs to the project's labels.

        Raises:
            EvaluateError: the folder cannot be loaded, or predicts another label set.
        """
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = name
        self.warnings: list[str] = []
        self._folder, self._quantized = folder, quantize
        model_name = name.removesuffix("_int8")
        self.title = f"{model_name} (PyTorch {'INT8 dynamic' if quantize else 'FP32'})"
        self._tokenizer = load_model_part(AutoTokenizer, folder, "tokenizer")
        model = load_model_part(AutoModelForSequenceClassification, folder, "model").eval()
        self._order = label_order(model.config, labels, folder.name, self.warnings)
        if quantize:
            model = quantize_dynamic_int8(model)
        self._model: Any = model
        self._device = torch.device("cpu")
        limit = int(getattr(self._tokenizer, "model_max_length", max_length) or max_length)
        self._max_length = min(limit, max_length)

    def devices(self) -> list[str]:
        import torch

        # Dynamically quantized linear layers run on the CPU only.
        return ["cpu", "cuda"] if torch.cuda.is_available() and not self._quantized else ["cpu"]

    def use_device(self, device: str) -> None:
        import torch

        self._device = torch.device(device)
        self._model.to(self._device)

    def run(self, texts: Sequence[str]) -> Any:
        import torch

        encoded = self._tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="pt",
        ).to(self._device)
        with torch.inference_mode():
            return self._model(**encoded).logits

    def logits(self, texts: Sequence[str], batch_size: int) -> FloatArray:
        """Logits in the project's label order, batched by similar length (less padding)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), len(self._order)), dtype=np.float64)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            logits = self.run([texts[i] for i in chunk]).float().cpu().numpy()
            out[chunk] = logits[:, self._order]
        return out

    def size_bytes(self) -> int:
        if self._quantized:
            return serialised_size(self._model)
        return folder_weight_bytes(self._folder)

    def close(self) -> None:
        self._model = None


def label_order(config: Any, labels: tuple[str, ...], name: str, notes: list[str]) -> list[int]:
    """For each project label, the model output that holds it.

    Raises:
        EvaluateError: the model predicts another label set.
    """
    count = int(config.num_labels)
    names = [str(config.id2label.get(i, f"LABEL_{i}")) for i in range(count)]
    if sorted(names) == sorted(labels):
        return [names.index(label) for label in labels]
    if count == len(labels) and all(_GENERIC_LABEL.match(n) for n in names):
        notes.append(
            f"{name} has no label names; its outputs were taken in the project's label order"
        )
        return list(range(count))
    raise EvaluateError(
        f"{name} predicts {count} labels ({', '.join(names)}) but the project has "
        f"{len(labels)} ({', '.join(labels)})",
        "evaluate a student trained on this project's label set",
    )


def quantize_dynamic_int8(model: Any) -> Any:
    """Linear layers to INT8 with dynamic activation quantization (PyTorch, CPU).

    ``torch.ao.quantization`` is deprecated in favour of torchao, which is not in the
    stack; its warnings say so on every call and would only bury the report's output.
    """
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(  # type: ignore[no-untyped-call]
            model.to("cpu"), {torch.nn.Linear}, dtype=torch.qint8
        )


def serialised_size(model: Any) -> int:
    """Bytes of the model's state dict as ``torch.save`` writes it."""
    import io

    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(model.state_dict(), buffer)
    return buffer.tell()


def folder_weight_bytes(folder: Path) -> int:
    """Bytes of the weight files in a model folder."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES)


def load_model_part(loader: Any, folder: Path, what: str) -> Any:
    """``loader.from_pretrained(folder)``, local files only.

    Raises:
        EvaluateError: the folder cannot be loaded.
    """
    try:
        return loader.from_pretrained(folder, local_files_only=True)
    except _LOAD_FAILURES as exc:
        raise EvaluateError(
            f"the {what} in {folder} cannot be loaded ({type(exc).__name__})",
            "pass a folder written by save_pretrained (config.json, weights, tokenizer)",
        ) from exc
