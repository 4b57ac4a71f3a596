"""The student as ONNX INT8, as a model column of the evaluate stage (its ``Scorer`` shape).

``OnnxInt8Scorer.build`` exports and quantizes the student exactly as ``stillroom export``
does (same exporter, pre-processing, per-channel INT8 and kernel target) into a scratch
folder, then scores through the serving path (tokenizers + ONNX Runtime). So the column
the evaluation shows is the model a bundle would ship.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.evaluate.inputs import StudentSource, read_json
from core.export.config import Isa
from core.export.runtime import FloatArray, OnnxClassifier
from core.train.lineage import LINEAGE_FILE

ONNX_INT8 = "student_onnx_int8"


class OnnxInt8Scorer:
    """Logits from an exported ONNX classifier, in the project's label order."""

    def __init__(self, runner: OnnxClassifier, order: list[int], *, name: str, title: str) -> None:
        self.name, self.title = name, title
        self.warnings: list[str] = []
        self._runner: OnnxClassifier | None = runner
        self._order = order

    @classmethod
    def build(
        cls,
        student: Path,
        labels: tuple[str, ...],
        work: Path,
        *,
        isa: Isa = "auto",
        quantize: bool = True,
        name: str = ONNX_INT8,
        threads: int | None = None,
    ) -> OnnxInt8Scorer:
        """Export (and quantize) ``student`` into ``work`` and open it (``threads``: ONNX
        Runtime's CPU threads, as the evaluation's ``--threads`` sets PyTorch's).

        Raises:
            ExportError: the student cannot be exported, or predicts another label set.
        """
        from core.errors import ExportError
        from core.export.build import export_and_quantize, settings_of
        from core.export.config import ExportConfig

        config = ExportConfig(out=work / "unused", isa=isa, quantize="int8" if quantize else "none")
        source = StudentSource(student, None, read_json(student / LINEAGE_FILE, ExportError))
        built = export_and_quantize(config, source, "classification", work, labels, _no_step)
        tokenizer = built.folder / "tokenizer.json"
        runner = OnnxClassifier.open(
            built.shipped, tokenizer, settings_of(built), threads=threads, cpu_only=True
        )
        order = [built.labels.index(label) for label in labels]
        precision = f"INT8 {built.isa}" if quantize else "FP32"
        return cls(runner, order, name=name, title=f"student (ONNX {precision})")

    def devices(self) -> list[str]:
        return ["cpu"]  # INT8 kernels are CPU kernels; a GPU deployment ships FP16

    def use_device(self, device: str) -> None:
        if device != "cpu":
            raise ValueError("the ONNX INT8 column runs on the CPU only")

    def _live(self) -> OnnxClassifier:
        if self._runner is None:
            raise RuntimeError("the scorer was closed")
        return self._runner

    def run(self, texts: Sequence[str]) -> Any:
        return self._live().run(texts)

    def logits(self, texts: Sequence[str], batch_size: int) -> FloatArray:
        """Logits in the project's label order, one row per text."""
        values = self._live().logits(texts, batch_size)
        out: FloatArray = values[:, self._order] if len(texts) else np.zeros((0, len(self._order)))
        return out

    def size_bytes(self) -> int:
        return self._live().path.stat().st_size

    def close(self) -> None:
        self._runner = None


def _no_step(fraction: float, message: str) -> None:
    return None
