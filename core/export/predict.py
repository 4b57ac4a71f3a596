"""``stillroom predict``: a bundle's label and calibrated probabilities for some texts.

Serving-side code: numpy, tokenizers, onnxruntime and json only, so that it starts in well
under a second on a machine without torch (a test runs it in a fresh interpreter and checks
that neither torch nor transformers was imported). Uses CUDA when onnxruntime-gpu offers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BundleError
from core.export.reader import load_classifier, open_bundle, read_manifest
from core.export.runtime import softmax


@dataclass(frozen=True, slots=True)
class Prediction:
    """One text's label and calibrated probabilities (label → probability)."""

    label: str
    probabilities: dict[str, float]


@dataclass(frozen=True, slots=True)
class PredictResult:
    task: str
    provider: str
    temperature: float
    predictions: tuple[Prediction, ...] = ()
    generations: tuple[str, ...] = ()


def predict(
    bundle: Path, texts: Sequence[str], *, batch_size: int = 32, max_new_tokens: int = 32
) -> PredictResult:
    """Run the bundle's model on ``texts``.

    Raises:
        BundleError: ``bundle`` is not a readable bundle, or there are no texts.
        BundleVerifyError: its model or tokenizer cannot be loaded.
    """
    if not texts:
        raise BundleError("there is no text to predict", "pass --text T or a non-empty --file")
    with open_bundle(bundle) as root:
        manifest = read_manifest(root)
        if manifest.get("task") == "generation":
            from core.export.runtime_causal import OnnxCausalLM

            generator = OnnxCausalLM.from_bundle(root, manifest)
            outputs = tuple(generator.generate(t, max_new_tokens) for t in texts)
            return PredictResult("generation", generator.provider, 1.0, generations=outputs)
        return _classify(root, manifest, texts, batch_size)


def _classify(
    root: Path, manifest: dict[str, Any], texts: Sequence[str], batch_size: int
) -> PredictResult:
    model = load_classifier(root, manifest)
    labels = [str(x) for x in manifest["labels"]]
    temperature = float(manifest["calibration"]["temperature"])
    probs = softmax(model.logits(texts, batch_size), temperature)
    predictions = tuple(
        Prediction(
            labels[int(np.argmax(row))],
            {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)},
        )
        for row in probs
    )
    return PredictResult("classification", model.provider, temperature, predictions)
