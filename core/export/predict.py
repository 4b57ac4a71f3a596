"""``stillroom predict``: a bundle's label and calibrated probabilities for some texts.

Nothing runs before the bundle is verified: its manifest's signature (by the pinned key
when one is given: ``key``, or ``$STILLROOM_BUNDLE_KEY``) and every file's checksum
(:func:`core.export.integrity.load_verified_bundle`, which a server calls the same way).

Serving-side code: numpy, tokenizers, onnxruntime and json only, so that it starts in well
under a second on a machine without torch (a test runs it in a fresh interpreter and checks
that neither torch nor transformers was imported). Uses CUDA when onnxruntime-gpu offers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BundleError
from core.export.integrity import load_verified_bundle
from core.export.reader import load_classifier
from core.export.runtime import softmax
from core.export.signature import SignatureCheck


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
    signature: SignatureCheck | None = None


def predict(
    bundle: Path,
    texts: Sequence[str],
    *,
    batch_size: int = 1,
    max_new_tokens: int = 32,
    key: str | Path | None = None,
) -> PredictResult:
    """Verify the bundle, then run its model on ``texts``.

    Args:
        bundle: a bundle folder or zip.
        texts: the inputs.
        batch_size: texts per forward pass (classification); 1 scores each text alone, as
            the evaluation scored the file (dynamic INT8 scales activations per batch).
        max_new_tokens: generation length (generation).
        key: the signer's public key to require (PEM file or ``sha256:…`` key id; default
            ``$STILLROOM_BUNDLE_KEY``); without one the signature is checked against the
            bundle's own key (integrity only; ``signature.pinned`` is False).

    Raises:
        BundleError: ``bundle`` is not a readable bundle, ``key`` is unusable, or there are
            no texts.
        BundleVerifyError: its signature or a checksum does not match (nothing was run), or
            its model or tokenizer cannot be loaded.
    """
    if not texts:
        raise BundleError("there is no text to predict", "pass --text T or a non-empty --file")
    with load_verified_bundle(bundle, key=key) as verified:
        root, manifest = verified.root, verified.manifest
        if manifest.get("task") == "generation":
            from core.export.runtime_causal import OnnxCausalLM

            generator = OnnxCausalLM.from_bundle(root, manifest)
            outputs = tuple(generator.generate(t, max_new_tokens) for t in texts)
            return PredictResult("generation", generator.provider, 1.0, generations=outputs,
                                 signature=verified.signature)  # fmt: skip
        result = _classify(root, manifest, texts, batch_size)
        return dataclasses.replace(result, signature=verified.signature)


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
