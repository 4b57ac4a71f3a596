"""A classifier exported to ONNX INT8, as a model column of the evaluate stage.

``OnnxInt8Scorer.build`` exports and quantizes a model folder exactly as ``stillroom export``
does (same exporter, pre-processing, per-channel INT8 and kernel target) into a folder,
then scores through the serving path (tokenizers + ONNX Runtime), one input at a time as
``stillroom predict`` and a server answer a request: dynamic INT8 scales activations per
batch, so padded batches would give slightly different answers. The evaluation builds the
student this way (the file the export ships, kept in the run folder) and a local teacher
(the quantize-only baseline), so both run on the same runtime with the same threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.evaluate.config import SHIPPED, ShippedModel
from core.evaluate.inputs import StudentSource, read_json
from core.export import bundle_format as fmt
from core.export.build import Built
from core.export.config import Isa
from core.export.runtime import FloatArray, OnnxClassifier
from core.train.lineage import LINEAGE_FILE


class OnnxInt8Scorer:
    """Logits from an exported ONNX classifier, in the project's label order."""

    def __init__(
        self, runner: OnnxClassifier, order: list[int], built: Built, *, name: str, title: str
    ) -> None:
        self.name, self.title = name, title
        self.warnings: list[str] = []
        self.built = built
        self._runner: OnnxClassifier | None = runner
        self._order = order

    @classmethod
    def build(
        cls,
        model_dir: Path,
        labels: tuple[str, ...],
        work: Path,
        *,
        isa: Isa = "auto",
        name: str = SHIPPED,
        who: str = "student",
        threads: int | None = None,
    ) -> OnnxInt8Scorer:
        """Export and quantize ``model_dir`` into ``work`` and open it (``threads``: ONNX
        Runtime's CPU threads, as the evaluation's ``--threads`` sets PyTorch's).

        The FP32 export is deleted once quantized: only the INT8 file and the small files
        of its folder (tokenizer, config) stay in ``work``.

        Raises:
            ExportError: the model cannot be exported, or predicts another label set.
        """
        from core.errors import ExportError
        from core.export.build import export_and_quantize, settings_of
        from core.export.config import ExportConfig

        config = ExportConfig(out=work / "unused", isa=isa)
        source = StudentSource(model_dir, None, read_json(model_dir / LINEAGE_FILE, ExportError))
        built = export_and_quantize(config, source, "classification", work, labels, _no_step)
        for stray in (built.fp32, *built.fp32.parent.glob("*.onnx_data")):
            stray.unlink(missing_ok=True)
        tokenizer = built.folder / "tokenizer.json"
        runner = OnnxClassifier.open(
            built.shipped, tokenizer, settings_of(built), threads=threads, cpu_only=True
        )
        order = [built.labels.index(label) for label in labels]
        title = f"{who} (ONNX INT8 {built.isa})"
        return cls(runner, order, built, name=name, title=title)

    def shipped(self) -> ShippedModel:
        """The record of the built file, with its checksum, for the evaluation's result."""
        built = self.built
        return ShippedModel(
            model=self.name,
            file=built.shipped,
            sha256=fmt.sha256_file(built.shipped),
            size_bytes=built.shipped.stat().st_size,
            precision="int8",
            isa=str(built.isa),
            exporter=built.exporter,
            max_length=built.max_length,
            quantization=dict(built.quantization or {}),
        )

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
        """Logits in the project's label order, one input at a time (``batch_size`` is
        ignored: see the module's docstring)."""
        values = self._live().logits(texts, 1)
        out: FloatArray = values[:, self._order] if len(texts) else np.zeros((0, len(self._order)))
        return out

    def size_bytes(self) -> int:
        return self._live().path.stat().st_size

    def close(self) -> None:
        self._runner = None


def _no_step(fraction: float, message: str) -> None:
    return None
