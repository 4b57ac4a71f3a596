"""The manifest's contents: model, tokenizer, calibration, parity, lineage, quality, who/when.

Only settings, counts, metrics, hashes and ids: never a record, never a prompt template.
"""

from __future__ import annotations

import dataclasses
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from core.configs import to_json
from core.evaluate.inputs import StudentSource
from core.export import bundle_format as fmt
from core.export import targets
from core.export.build import Built
from core.export.config import ExportConfig
from core.export.review import review_section
from core.export.serving import Serving
from core.export.shipped import ShippedFigures
from core.export.signature import ALGORITHM, Signer
from core.export.sources import Evaluation, lineage_summary
from core.project import Project
from core.store import audit
from core.store.db import utc_now

_PACKAGES = (
    "torch",
    "transformers",
    "tokenizers",
    "optimum",
    "optimum-onnx",
    "onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "numpy",
    "peft",
    "stillroom",
)


def library_versions() -> dict[str, str]:
    """Versions of everything that shaped the exported model, at export time."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name != "onnxruntime-gpu":
                versions[name] = "not installed"
    return versions


def opset_of(model: Path) -> int | None:
    """The default-domain opset of an ONNX file (read without loading its weights)."""
    import onnx

    proto = onnx.load(str(model), load_external_data=False)
    return next((int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


@dataclasses.dataclass(frozen=True, slots=True)
class Gates:
    """How the export got past its two gates."""

    floor_override: str | None
    parity_override: str | None
    threshold: float


def build_manifest(project: Project, config: ExportConfig, student: StudentSource,
                   evaluation: Evaluation, built: Built, calibration: tuple[float, str],
                   gates: Gates, *, serving: Serving, run_id: str | None,
                   signer: Signer, shipped: ShippedFigures) -> dict[str, Any]:  # fmt: skip
    """Every manifest field except ``files`` (the bundle writer adds it).

    ``shipped`` holds ``model.onnx``'s SHA-256 and its figures (the evaluated file's, or
    this export's re-score); ``review`` what the model card tells a model-risk reviewer.

    ``audit_head`` (and its row) anchors the project's audit chain: the manifest is signed,
    so ``stillroom audit verify DIR --bundle BUNDLE`` can later prove that no audit row up
    to the export was removed or rewritten.
    """
    return {
        "format": fmt.FORMAT,
        "format_version": fmt.FORMAT_VERSION,
        "name": serving.name,
        "task": project.settings.task,
        "labels": built.labels,
        "model": _model(built, config),
        "tokenizer": built.tokenizer,
        "max_length": built.max_length,
        "calibration": {"temperature": calibration[0], "source": calibration[1]},
        "parity": _parity(built, gates),
        "probes": {
            "file": fmt.PROBES,
            "count": len(built.probes.get("inputs", [])),
            "atol": built.probes.get("atol", 0.0),
            "text": "anonymized or synthetic",
        },
        **{target.key: target.section(serving) for target in targets.TARGETS},
        "lineage": lineage_summary(project, student),
        "metrics": evaluation.metrics,
        "quality": _quality(project, evaluation, gates),
        "shipped": {"file": fmt.MODEL, **to_json(shipped)},
        "review": review_section(project, config, evaluation.result, _teacher_id(student)),
        "versions": library_versions(),
        **_anchors(project, signer),
        "exported_by": audit.os_user(),
        "exported_at": utc_now(),
        "export_run": run_id,
        "parent": None if config.parent is None else {"manifest_sha256": config.parent},
        "notes": list(dict.fromkeys(built.notes)),
    }


def _teacher_id(student: StudentSource) -> str | None:
    value = student.teacher_value("teacher_id")
    return value if isinstance(value, str) and value else None


def _anchors(project: Project, signer: Signer) -> dict[str, Any]:
    """The audit chain head now (read with its row, in one query) and who signs."""
    head_row, head = audit.head_with_row(project.store)
    return {
        "audit_head": head,
        "audit_head_row": head_row,
        "signing": {"algorithm": ALGORITHM, "key_id": signer.key_id, "source": signer.source},
    }


def _model(built: Built, config: ExportConfig) -> dict[str, Any]:
    variants = {fmt.MODEL: built.precision}
    if config.keep_fp32 and built.quantization:
        variants[fmt.MODEL_FP32] = "fp32"
    if built.fp16 is not None:
        variants[fmt.MODEL_FP16] = "fp16 (GPU serving)"
    return {
        "file": fmt.MODEL,
        "precision": built.precision,
        "inputs": [t.as_dict() for t in built.inputs],
        "outputs": [t.as_dict() for t in built.outputs],
        "opset": opset_of(built.shipped),
        "exporter": built.exporter,
        "fallback_reason": built.fallback_reason,
        "merged_lora": built.merged_lora,
        "quantization": built.quantization,
        "fp16": built.fp16_settings,
        "variants": variants,
    }


def _parity(built: Built, gates: Gates) -> dict[str, Any]:
    assert built.parity is not None
    values: dict[str, Any] = to_json(built.parity)
    values["threshold"] = gates.threshold
    values["override"] = (
        None if gates.parity_override is None else {"reason": gates.parity_override}
    )
    return values


def _quality(project: Project, evaluation: Evaluation, gates: Gates) -> dict[str, Any]:
    result = evaluation.result
    return {
        "floor": dataclasses.asdict(project.settings.floor),
        "verdict": evaluation.verdict,
        "evaluate_run": evaluation.run_id,
        "test_passed": None if result is None else result.test_passed,
        "edge_passed": None if result is None else result.edge_passed,
        "failures": [] if result is None else list(result.failures),
        "primary_metric": None if result is None else result.primary_metric,
        "reference": None if result is None else result.reference,
        "override": None if gates.floor_override is None else {"reason": gates.floor_override},
    }
