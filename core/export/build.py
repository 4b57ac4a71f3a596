"""The model side of an export: merge, ONNX, quantize, parity and probe outputs.

Everything is written into a scratch folder of the export run; the bundle is assembled
from it afterwards (``core.export.bundle``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ExportError
from core.evaluate.config import ShippedModel
from core.evaluate.inputs import StudentSource
from core.export import onnx_export, parity, quantize
from core.export.bundle_format import sha256_file
from core.export.config import ExportConfig, ParityReport
from core.export.onnx_export import load_local
from core.export.runtime import OnnxClassifier, TokenizerSettings, open_session, softmax
from core.export.serving import TensorSpec, graph_io
from core.export.sources import probe_texts, test_inputs
from core.project import Project

PROBE_ATOL = 1e-3
_GENERIC = "LABEL_"

Step = Callable[[float, str], None]


@dataclass
class Built:
    """What the bundle is made of, and what the manifest says about it."""

    source: Path
    folder: Path
    shipped: Path
    fp32: Path
    exporter: str
    fallback_reason: str | None
    merged_lora: bool
    labels: list[str]
    tokenizer: dict[str, Any]
    max_length: int
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    fp16: Path | None = None
    fp16_settings: dict[str, Any] | None = None
    quantization: dict[str, Any] | None = None
    isa: str | None = None
    parity: ParityReport | None = None
    probes: dict[str, Any] = field(default_factory=dict)
    prompt: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    fp32_bytes: int = 0
    reused: bool = False  # the INT8 file is the one the evaluation scored
    # generation: the weight-only files parity chooses from, by variant name
    candidates: dict[str, quantize.Quantized] = field(default_factory=dict)
    # generation: a file's greedy answers by (file, split), kept so a file chosen by its
    # test-set score is not generated twice
    answers: dict[tuple[Path, str], list[str]] = field(default_factory=dict)

    @property
    def shipped_variant(self) -> str:
        """The parity variant of the shipped file: ``onnx_fp32``, ``onnx_int8``..."""
        if self.quantization is None:
            return "onnx_fp32"
        return str(self.quantization.get("variant", "onnx_int8"))

    @property
    def precision(self) -> str:
        """The shipped weights' precision: ``fp32``, ``int8`` or ``int4``."""
        if self.quantization is None:
            return "fp32"
        return str(self.quantization.get("precision", "int8"))


def export_and_quantize(config: ExportConfig, student: StudentSource, task: str, work: Path,
                        labels: tuple[str, ...], step: Step,
                        reuse: ShippedModel | None = None) -> Built:  # fmt: skip
    """Merge LoRA, export fp32 ONNX, quantize to INT8 (and FP16), read the graph's I/O.

    ``reuse``: the INT8 file the evaluation scored, shipped as it is instead of quantizing
    again (the caller checked that it was made with these settings and is unchanged).

    Raises:
        ExportError: the student cannot be exported, or predicts another label set.
        OSError: the scratch folder cannot be written.
    """
    step(0.05, "merging the student (LoRA adapters, if any)")
    source, merged = onnx_export.merge_lora(student.model_dir, work, task)
    step(0.1, "exporting to ONNX")
    folder = work / "onnx"
    exporter, reason = onnx_export.export_onnx(
        source, folder, task=task, exporter=config.exporter, opset=config.opset
    )
    onnx_export.ensure_tokenizer_json(source, folder)
    fp32 = folder / "model.onnx"
    tokenizer, max_length = _tokenizer(source, student, config, task)
    built = Built(source, folder, fp32, fp32, exporter, reason, merged,
                  _labels(folder, labels, task), tokenizer, max_length)  # fmt: skip
    if reason:
        built.notes.append(f"exported with {exporter}: optimum could not ({reason})")
    if reuse is not None:
        _reuse(reuse, built, work)
    else:
        _quantize(config, built, work, step, task)
    if config.fp16:
        step(0.35, "converting a copy to FP16 for GPU serving")
        built.fp16 = work / "model_fp16.onnx"
        built.fp16_settings = quantize.convert_fp16(built.fp32, built.fp16)
    built.inputs, built.outputs = graph_io(open_session(built.shipped, cpu_only=True))
    built.tokenizer["input_names"] = [t.name for t in built.inputs]
    built.fp32_bytes = fp32.stat().st_size
    return built


def _quantize(config: ExportConfig, built: Built, work: Path, step: Step, task: str) -> None:
    if config.quantize == "int8" and task == "generation":
        step(0.3, "quantizing the weights (8- and 4-bit, block-wise) for parity to choose")
        for bits in quantize.WEIGHT_ONLY_BITS:
            candidate = quantize.quantize_weight_only(built.fp32, work, bits)
            built.candidates[quantize.weight_only_variant(bits)] = candidate
    elif config.quantize == "int8":
        step(0.3, "quantizing to INT8 (dynamic, per-channel)")
        quantized = quantize.quantize_int8(built.fp32, work, config.isa)
        built.shipped, built.isa, built.quantization = (
            quantized.model, quantized.isa, quantized.settings)  # fmt: skip
        _copy_ort_config(quantized.model.parent, built.folder)


def _reuse(shipped: ShippedModel, built: Built, work: Path) -> None:
    """Ship the evaluated INT8 file itself: a copy, checked against its recorded SHA-256."""
    target = work / "int8" / "model.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped.file, target)
    if sha256_file(target) != shipped.sha256:
        raise ExportError(
            f"the evaluated model file {shipped.file} changed while it was copied",
            "evaluate the student again, then export",
        )
    built.shipped, built.isa, built.quantization = target, shipped.isa, dict(shipped.quantization)
    built.reused = True
    _copy_ort_config(shipped.file.parent, built.folder)


def _copy_ort_config(source: Path, folder: Path) -> None:
    ort_config = source / "ort_config.json"
    if ort_config.is_file():  # optimum's record of the quantization, for ORTModel
        shutil.copyfile(ort_config, folder / "ort_config.json")


def _labels(folder: Path, labels: tuple[str, ...], task: str) -> list[str]:
    """The label of each logit, in the model's order; generic names get the project's."""
    if task != "classification":
        return []
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
    names = [id2label.get(i, f"{_GENERIC}{i}") for i in range(len(id2label))]
    if sorted(names) == sorted(labels):
        return names
    if len(names) == len(labels) and all(n.startswith(_GENERIC) for n in names):
        # Name the outputs in the bundle so that Triton and ORTModel users see labels.
        config["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config["label2id"] = {label: i for i, label in enumerate(labels)}
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return list(labels)
    raise ExportError(
        f"the student predicts {len(names)} labels ({', '.join(names)}) but the project has "
        f"{len(labels)} ({', '.join(labels)})",
        "export a student trained on this project's label set",
    )


def _tokenizer(
    source: Path, student: StudentSource, config: ExportConfig, task: str
) -> tuple[dict[str, Any], int]:

    tokenizer = load_local("AutoTokenizer", source)
    model_config = load_local("AutoConfig", source)
    trained = (student.lineage.get("training") or {}).get("max_length")
    limits = [
        int(x)
        for x in (
            getattr(tokenizer, "model_max_length", 0),
            getattr(model_config, "max_position_embeddings", 0),
        )
        if x
    ]
    max_length = config.max_length or (int(trained) if trained else min([*limits, 512]))
    pad_token = tokenizer.pad_token or tokenizer.eos_token or tokenizer.unk_token
    pad_id = tokenizer.convert_tokens_to_ids(pad_token) if pad_token is not None else 0
    section = {
        "file": "tokenizer.json",
        "library": "tokenizers",
        "pad_token": str(pad_token or ""),
        "pad_id": int(pad_id or 0),
        "padding_side": "right",
        "truncation_side": "right",
        "input_names": list(getattr(tokenizer, "model_input_names", ["input_ids"])),
        "add_special_tokens": task == "classification",
        "lowercase_handled_by": "tokenizer.json",
    }
    return section, int(max_length)


def settings_of(built: Built) -> TokenizerSettings:
    return TokenizerSettings.from_manifest(built.tokenizer, built.max_length)


def classification_parity(
    project: Project, config: ExportConfig, student: StudentSource, built: Built, step: Step
) -> None:
    """Fill ``built.parity``: PyTorch against ONNX fp32 (and INT8) on the test split."""
    teacher = (student.lineage.get("teacher") or {}).get("teacher_id")
    inputs = test_inputs(project, student, config.parity_limit, teacher)
    step(0.45, f"parity check on {len(inputs.texts):,} test inputs")
    settings = settings_of(built)
    tokenizer = built.folder / "tokenizer.json"

    def progress(message: str) -> None:
        step(0.5, message)

    reference = parity.torch_logits(
        built.source, inputs.texts, built.max_length, config.batch_size, progress
    )
    variants = {
        "onnx_fp32": parity.onnx_logits(
            built.fp32, tokenizer, settings, inputs.texts, config.batch_size, progress
        )
    }
    batched = {}
    if built.shipped != built.fp32:
        # INT8 one input at a time, as served; in batches too, for the record.
        variants["onnx_int8"] = parity.onnx_logits(
            built.shipped, tokenizer, settings, inputs.texts, 1, progress
        )
        batched["onnx_int8"] = parity.onnx_logits(
            built.shipped, tokenizer, settings, inputs.texts, config.batch_size, progress
        )
    built.parity = parity.compare(reference, variants, inputs, built.labels, batched)


def classification_probes(
    project: Project,
    config: ExportConfig,
    built: Built,
    temperature: float,
    labels: tuple[str, ...],
) -> None:
    """Fill ``built.probes``: anonymized test texts (topped up with synthetic ones) and the
    shipped model's calibrated outputs on each, one input per run as verify runs them."""
    texts = [(t, "anonymized test text") for t in probe_texts(project, config.probes, labels)]
    texts += [
        (synthetic_probe(i, built.labels), "synthetic") for i in range(config.probes - len(texts))
    ]
    runner = OnnxClassifier.open(
        built.shipped, built.folder / "tokenizer.json", settings_of(built), cpu_only=True
    )
    inputs = []
    for text, source in texts:
        probs = softmax(runner.run([text]), temperature)[0]
        inputs.append(
            {
                "text": text,
                "source": source,
                "label": built.labels[int(np.argmax(probs))],
                "probabilities": [float(p) for p in probs],
            }
        )
    built.probes = {
        "task": "classification",
        "temperature": temperature,
        "atol": PROBE_ATOL,
        "inputs": inputs,
    }
    if len(texts) > sum(1 for _, s in texts if s == "synthetic"):
        return
    if texts:
        built.notes.append(
            "no anonymized test text differs from its raw text: the probes are synthetic"
        )


def synthetic_probe(index: int, labels: list[str]) -> str:
    """A made-up input: a self-test needs fixed inputs with known outputs, not real data."""
    words = labels or ["sample"]
    rotated = words[index % len(words) :] + words[: index % len(words)]
    return f"self-test input {index + 1}: " + " ".join(rotated)
