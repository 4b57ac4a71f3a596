"""The verified bundle as the server holds it: the model on its device, labels, calibration.

Loaded only from a :class:`~core.export.integrity.VerifiedBundle` (signature and every
checksum checked), with onnxruntime, tokenizers and numpy: never torch.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.anonymize.rules import RULES_FILE  # the project's custom recognizers, if exported
from core.export import bundle_format as fmt
from core.export.integrity import VerifiedBundle
from core.export.reader import tokenizer_settings
from core.export.runtime import FloatArray, OnnxClassifier, load_tokenizer, softmax
from core.serve.config import ServeConfig, ServeError

_CUDA = "CUDAExecutionProvider"


@dataclass(frozen=True)
class ServedModel:
    """What the server answers with.

    Attributes:
        name: the model's name in ``/v2/models/<name>`` (the manifest's, as Triton's).
        root: the bundle folder (valid while the server runs).
        manifest: the verified manifest.
        bundle_sha: SHA-256 of the signed manifest's bytes: identifies this exact bundle.
        labels: the label order of every probability vector.
        temperature: the calibration temperature applied to the logits.
        classifier: the ONNX session and tokenizer.
        provider: the execution provider the session runs on.
    """

    name: str
    root: Path
    manifest: dict[str, Any]
    bundle_sha: str
    labels: tuple[str, ...]
    temperature: float
    classifier: OnnxClassifier
    provider: str

    def probabilities(self, texts: list[str], batch_size: int) -> FloatArray:
        """Calibrated probabilities for ``texts`` (rows in order)."""
        return softmax(self.classifier.logits(texts, batch_size), self.temperature)

    def anonymization(self) -> tuple[dict[str, Any] | None, bytes | None]:
        """The project's anonymization settings and its rules file, as exported (or None)."""
        lineage = self.manifest.get("lineage") or {}
        settings = (lineage.get("anonymization") or {}).get("latest_run_config")
        rules = self.root / RULES_FILE
        return settings, rules.read_bytes() if rules.is_file() else None


def load_served(verified: VerifiedBundle, config: ServeConfig) -> ServedModel:
    """The bundle's model, on ``config.device``, with ``config.workers`` sharing the cores.

    Raises:
        ServeError: a generation bundle (not served yet), or CUDA asked without
            onnxruntime-gpu.
    """
    manifest, root = verified.manifest, verified.root
    if manifest.get("task") == "generation":
        raise ServeError(
            "generation bundles are not served yet: `stillroom serve` serves classification "
            "bundles only",
            "run generation bundles with `stillroom predict BUNDLE --text …`, or deploy the "
            "bundle's Triton repository",
        )
    model_file = _model_file(root, manifest, config.device)
    settings = tokenizer_settings(manifest)
    tokenizer = load_tokenizer(root / manifest["tokenizer"]["file"], settings)
    session = _session(model_file, config)
    classifier = OnnxClassifier(session, tokenizer, model_file)
    return ServedModel(
        name=str(manifest["name"]),
        root=root,
        manifest=manifest,
        bundle_sha=hashlib.sha256((root / fmt.MANIFEST).read_bytes()).hexdigest(),
        labels=tuple(str(label) for label in manifest["labels"]),
        temperature=float(manifest["calibration"]["temperature"]),
        classifier=classifier,
        provider=str(session.get_providers()[0]),
    )


def _model_file(root: Path, manifest: dict[str, Any], device: str) -> Path:
    """INT8 ``model.onnx`` on the CPU; on CUDA the FP16 variant when the export wrote one
    (``--fp16``: its manifest calls it the GPU serving variant), else the shipped model."""
    variants = (manifest.get("model") or {}).get("variants") or {}
    if device.startswith("cuda") and fmt.MODEL_FP16 in variants:
        return root / fmt.MODEL_FP16
    return root / str(manifest["model"]["file"])


def _session(model: Path, config: ServeConfig) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # Each of the `workers` concurrent batches gets its share of the cores.
    options.intra_op_num_threads = max(1, (cores or 1) // config.workers)
    options.inter_op_num_threads = 1
    # Spinning threads burn the cores the event loop, the log and other batches need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers: list[Any] = ["CPUExecutionProvider"]
    if config.device.startswith("cuda"):
        if _CUDA not in onnxruntime.get_available_providers():
            raise ServeError(
                f"--device {config.device} needs onnxruntime-gpu, and this install has the "
                "CPU build only",
                "install Stillroom with the gpu extra (docs/INSTALL.md), or use --device cpu",
            )
        device_id = int(config.device.partition(":")[2] or 0)
        providers = [(_CUDA, {"device_id": device_id}), "CPUExecutionProvider"]
    return onnxruntime.InferenceSession(str(model), sess_options=options, providers=providers)
