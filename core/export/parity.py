"""Parity: the PyTorch student against its ONNX fp32 and INT8 exports on the test split.

Each ONNX variant runs exactly as ``stillroom predict`` does (tokenizers + ONNX Runtime),
so the agreement measured here is the agreement a deployment gets. Reported per variant:
argmax agreement with PyTorch, the largest absolute logit difference, and the accuracy
against the reference labels with its difference from PyTorch's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.export.config import ParityReport, VariantParity
from core.export.onnx_export import load_local
from core.export.runtime import FloatArray, OnnxClassifier, TokenizerSettings
from core.export.sources import TestInputs

Progress = Callable[[str], None]


def torch_logits(
    model_dir: Path, texts: Sequence[str], max_length: int, batch_size: int, progress: Progress
) -> FloatArray:
    """The PyTorch student's logits, in the model's own label order."""
    import torch

    tokenizer = load_local("AutoTokenizer", model_dir)
    model = load_local("AutoModelForSequenceClassification", model_dir)
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), int(model.config.num_labels)), dtype=np.float64)
    for start in range(0, len(order), batch_size):
        progress(f"PyTorch student: {start:,} of {len(texts):,} test inputs")
        chunk = order[start : start + batch_size]
        encoded = tokenizer(
            [texts[i] for i in chunk],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            out[chunk] = model(**encoded).logits.float().numpy()
    return out


def onnx_logits(
    model: Path,
    tokenizer: Path,
    settings: TokenizerSettings,
    texts: Sequence[str],
    batch_size: int,
    progress: Progress,
) -> FloatArray:
    """An ONNX variant's logits through the serving path (CPU, as measured in parity)."""
    runner = OnnxClassifier.open(model, tokenizer, settings, cpu_only=True)
    progress(f"ONNX {model.parent.name}: {len(texts):,} test inputs")
    return runner.logits(texts, batch_size)


def accuracy(
    logits: FloatArray, reference: Sequence[str | None], labels: Sequence[str]
) -> float | None:
    """Accuracy over the rows whose reference label is in ``labels`` (None: no such rows)."""
    index = {label: i for i, label in enumerate(labels)}
    rows = [i for i, ref in enumerate(reference) if ref in index]
    if not rows:
        return None
    truth = np.array([index[str(reference[i])] for i in rows])
    return float(np.mean(logits[rows].argmax(axis=1) == truth))


def compare(
    reference_logits: FloatArray,
    variants: dict[str, FloatArray],
    inputs: TestInputs,
    labels: Sequence[str],
    batched: dict[str, FloatArray] | None = None,
) -> ParityReport:
    """Agreement, logit difference and metric delta of each variant against PyTorch
    (``batched``: the same variants run in padded batches, for their agreement only)."""
    base_metric = accuracy(reference_logits, inputs.reference, labels)
    base_pred = reference_logits.argmax(axis=1)
    out = []
    for name, logits in variants.items():
        metric = accuracy(logits, inputs.reference, labels)
        out.append(
            VariantParity(
                variant=name,
                agreement=_share(logits.argmax(axis=1) == base_pred),
                max_abs_diff=float(np.max(np.abs(logits - reference_logits)))
                if logits.size
                else 0.0,
                metric=metric,
                metric_delta=None
                if metric is None or base_metric is None
                else metric - base_metric,
                batched_agreement=None
                if name not in (batched or {})
                else _share((batched or {})[name].argmax(axis=1) == base_pred),
            )
        )
    between = None
    if "onnx_fp32" in variants and "onnx_int8" in variants:
        fp32, int8 = variants["onnx_fp32"], variants["onnx_int8"]
        between = _share(fp32.argmax(axis=1) == int8.argmax(axis=1))
    return ParityReport(
        n=len(inputs.texts),
        reference=inputs.reference_kind,
        metric_name="accuracy",
        pytorch_metric=base_metric,
        variants=tuple(out),
        int8_vs_fp32_agreement=between,
    )


def _share(matches: np.ndarray) -> float:
    return float(np.mean(matches)) if matches.size else 1.0
