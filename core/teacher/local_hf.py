"""A local Hugging Face sequence classifier as the teacher: softmax(logits / T) per record."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.errors import TeacherModelError
from core.teacher.base import TeachBatch, TeacherOutput, TeachItem, chunked_by_length
from core.teacher.models import folder_digest, load_pretrained, pick_device

_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


class LocalClassifierTeacher:
    """A sequence-classification model from a local folder, batched, on CUDA when present."""

    def __init__(
        self,
        folder: Path,
        labels: tuple[str, ...],
        *,
        temperature: float = 1.0,
        batch_size: int = 16,
        max_length: int = 512,
    ) -> None:
        """Load the model and match its outputs to the project's labels.

        Raises:
            TeacherModelError: the folder cannot be loaded, or its outputs do not match the
                project's label set.
        """
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if temperature <= 0:
            raise TeacherModelError("the soft-label temperature must be positive")
        self.warnings: list[str] = []
        self._labels, self._temperature = labels, temperature
        self._batch_size, self._max_length = batch_size, max_length
        self._device = pick_device()
        self._tokenizer = load_pretrained(AutoTokenizer, folder, "tokenizer")
        self._model = load_pretrained(AutoModelForSequenceClassification, folder, "model")
        self._model.to(self._device).eval()
        self._order = self._label_order(folder)
        self.teacher_id = f"hf:{folder.name}@{folder_digest(folder)}?t={temperature:g}"

    def _label_order(self, folder: Path) -> list[int]:
        """For each project label, the model output that holds it."""
        names = [str(self._model.config.id2label[i]) for i in range(self._model.num_labels)]
        if sorted(names) == sorted(self._labels):
            return [names.index(label) for label in self._labels]
        if len(names) == len(self._labels) and all(_GENERIC_LABEL.match(n) for n in names):
            self.warnings.append(
                f"{folder.name} has no label names; its outputs were taken in the project's "
                f"label order ({', '.join(self._labels)}) — set id2label in its config.json "
                "if that is wrong"
            )
            return list(range(len(names)))
        raise TeacherModelError(
            f"{folder.name} predicts {len(names)} labels ({', '.join(names)}) but the project "
            f"has {len(self._labels)} ({', '.join(self._labels)})",
            "use a classifier trained on this label set, or a causal LM teacher",
        )

    def outputs(self, items: Iterable[TeachItem]) -> Iterator[TeachBatch]:
        for batch in chunked_by_length(items, self._batch_size):
            yield TeachBatch(self._classify(batch))

    def _classify(self, batch: list[TeachItem]) -> list[TeacherOutput]:
        import torch

        start = time.perf_counter()
        encoded = self._tokenizer(
            [item.text for item in batch],
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="pt",
        ).to(self._device)
        with torch.inference_mode():
            logits = self._model(**encoded).logits.float()
        probs = torch.softmax(logits[:, self._order] / self._temperature, dim=-1).cpu().tolist()
        lengths = encoded["attention_mask"].sum(dim=1).tolist()
        per_record_ms = (time.perf_counter() - start) * 1000 / len(batch)
        return [
            _classifier_output(item, vector, self._labels, per_record_ms, int(n))
            for item, vector, n in zip(batch, probs, lengths, strict=True)
        ]

    def close(self) -> None:
        self._model = None
        _release_cuda()


def _classifier_output(
    item: TeachItem, vector: list[float], labels: tuple[str, ...], ms: float, tokens: int
) -> TeacherOutput:
    best = max(range(len(labels)), key=lambda i: (vector[i], -i))
    return TeacherOutput(
        record_id=item.record_id,
        label=labels[best],
        probabilities=tuple(vector),
        soft_label_source="logits",
        label_mass=1.0,
        latency_ms=ms,
        input_tokens=tokens,
        output_tokens=0,
    )


def _release_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
