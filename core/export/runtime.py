"""Running an exported classifier with ONNX Runtime: tokenizers + onnxruntime + numpy only.

This is the serving path: ``stillroom predict``, ``bundle verify``'s self-test, the export's
parity check and the evaluate stage's ONNX column all tokenize and run exactly this way, so
a number measured here is a number a deployment sees. Never import torch or transformers
here (a test checks ``stillroom predict`` does not load them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"


@dataclass(frozen=True, slots=True)
class TokenizerSettings:
    """How inputs are encoded: recorded in the manifest, applied by every runner."""

    pad_id: int
    pad_token: str
    max_length: int
    input_names: tuple[str, ...] = ("input_ids", "attention_mask")

    @classmethod
    def from_manifest(cls, tokenizer: dict[str, Any], max_length: int) -> TokenizerSettings:
        return cls(
            pad_id=int(tokenizer["pad_id"]),
            pad_token=str(tokenizer["pad_token"]),
            max_length=int(max_length),
            input_names=tuple(str(n) for n in tokenizer.get("input_names", ())),
        )


def providers(available: Sequence[str] | None = None) -> list[str]:
    """CUDA first when onnxruntime-gpu offers it, else the CPU (never Azure or others)."""
    if available is None:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    return [_CUDA, _CPU] if _CUDA in available else [_CPU]


def open_session(model: Path, *, threads: int | None = None, cpu_only: bool = False) -> Any:
    """An inference session with every graph optimisation on, on the best provider."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    chosen = [_CPU] if cpu_only else providers()
    return onnxruntime.InferenceSession(str(model), sess_options=options, providers=chosen)


def load_tokenizer(path: Path, settings: TokenizerSettings) -> Any:
    """A ``tokenizers.Tokenizer`` that truncates and pads as the student was trained."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=settings.max_length)
    tokenizer.enable_padding(pad_id=settings.pad_id, pad_token=settings.pad_token)
    return tokenizer


def softmax(logits: FloatArray, temperature: float = 1.0) -> FloatArray:
    """Row-wise softmax of ``logits / temperature``, computed stably."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


class OnnxClassifier:
    """A sequence classifier in ONNX: texts in, logits out (in the model's label order)."""

    def __init__(self, session: Any, tokenizer: Any, path: Path) -> None:
        self.path = path
        self.session = session
        self.tokenizer = tokenizer
        self.input_names = [i.name for i in session.get_inputs()]

    @classmethod
    def open(
        cls,
        model: Path,
        tokenizer: Path,
        settings: TokenizerSettings,
        *,
        threads: int | None = None,
        cpu_only: bool = False,
    ) -> OnnxClassifier:
        """Load the model and its tokenizer (errors are the libraries' own)."""
        loaded = load_tokenizer(tokenizer, settings)
        return cls(open_session(model, threads=threads, cpu_only=cpu_only), loaded, model)

    @property
    def provider(self) -> str:
        return str(self.session.get_providers()[0])

    def feeds(self, texts: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
        """The model inputs for a batch, padded to its longest text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self.input_names}

    def run(self, texts: Sequence[str]) -> FloatArray:
        """Logits for one batch."""
        (logits,) = self.session.run(["logits"], self.feeds(texts))
        out: FloatArray = np.asarray(logits, dtype=np.float64)
        return out

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """Logits for every text, batched by similar length (less padding)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: FloatArray | None = None
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            values = self.run([texts[i] for i in chunk])
            if out is None:
                out = np.zeros((len(texts), values.shape[1]), dtype=np.float64)
            out[chunk] = values
        return np.zeros((0, 0)) if out is None else out
