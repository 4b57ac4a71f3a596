"""From a student folder to ``model.onnx``: merge LoRA, export with optimum, or fall back.

Optimum's ``main_export`` is the exporter: encoders for sequence classification, decoders
for text generation with a KV cache (``text-generation-with-past``). Only where it cannot
(an architecture it does not know) does a classifier go through ``torch.onnx.export``, and
the reason is kept for the manifest and the audit log.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import ExportError

OPTIMUM = "optimum main_export"
TORCH = "torch.onnx.export"
_TASKS = {"classification": "text-classification", "generation": "text-generation-with-past"}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_FALLBACK_OPSET = 17


def load_local(class_name: str, folder: Path, **options: Any) -> Any:
    """``transformers.<class_name>.from_pretrained(folder)`` from local files only."""
    import transformers

    loader: Any = getattr(transformers, class_name)
    return loader.from_pretrained(folder, local_files_only=True, **options)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporters' tracer warnings, deprecation notes and progress chatter: stdout
    is the CLI's, and a terminal full of library warnings hides the one line that matters."""
    loggers = [logging.getLogger(name) for name in ("transformers", "optimum", "onnxruntime")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def merge_lora(student: Path, work: Path, task: str) -> tuple[Path, bool]:
    """A plain model folder: ``student`` itself, or its LoRA adapter merged into the base.

    Raises:
        ExportError: the adapter or its base cannot be loaded.
    """
    if not (student / "adapter_config.json").is_file():
        return student, False
    from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification

    loader = (
        AutoPeftModelForCausalLM if task == "generation" else AutoPeftModelForSequenceClassification
    )
    target = work / "merged"
    try:
        with quiet():
            model = loader.from_pretrained(student, local_files_only=True).merge_and_unload()
            model.eval().save_pretrained(target, safe_serialization=True)
            base = student if (student / "tokenizer_config.json").is_file() else None
            base = base or Path(model.config.name_or_path)
            load_local("AutoTokenizer", base).save_pretrained(target)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ExportError(
            f"the LoRA adapter in {student} cannot be merged ({type(exc).__name__})",
            "check that its base model folder (adapter_config.json) is on this machine",
        ) from exc
    return target, True


def export_onnx(
    model_dir: Path, out: Path, *, task: str, exporter: str, opset: int | None
) -> tuple[str, str | None]:
    """Export ``model_dir`` into the folder ``out`` (``out/model.onnx`` + config + tokenizer).

    Returns:
        The exporter used and, when it is the fallback, why optimum could not.

    Raises:
        ExportError: no exporter can export the model.
    """
    if exporter != "torch":
        try:
            _optimum(model_dir, out, task, opset)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            if exporter == "optimum" or task != "classification":
                raise ExportError(
                    f"optimum cannot export this {task} model ({reason})",
                    "the torch.onnx fallback covers sequence classifiers only"
                    if task != "classification"
                    else "try --exporter auto",
                ) from exc
            shutil.rmtree(out, ignore_errors=True)
        else:
            return OPTIMUM, None
    else:
        reason = "--exporter torch was asked for"
    _torch_export(model_dir, out, opset)
    return TORCH, reason


def _optimum(model_dir: Path, out: Path, task: str, opset: int | None) -> None:
    from optimum.exporters.onnx import main_export

    with quiet():
        main_export(
            str(model_dir),
            out,
            task=_TASKS[task],
            opset=opset,
            device="cpu",
            local_files_only=True,
            do_validation=False,
            library_name="transformers",
        )
    if not (out / "model.onnx").is_file():
        raise ExportError("optimum wrote no model.onnx", "see the export log")


def _torch_export(model_dir: Path, out: Path, opset: int | None) -> None:
    """A classifier through the TorchScript-based exporter, with dynamic batch and length."""
    import torch

    tokenizer = load_local("AutoTokenizer", model_dir)
    model = load_local("AutoModelForSequenceClassification", model_dir)
    wrapper = _logits_only(model).eval()
    dummy = tokenizer(
        ["a short input", "a somewhat longer input"], padding=True, return_tensors="pt"
    )
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in dummy]
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    out.mkdir(parents=True, exist_ok=True)
    try:
        with quiet(), torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                wrapper,
                tuple(dummy[n] for n in names),
                str(out / "model.onnx"),
                input_names=names,
                output_names=["logits"],
                dynamic_axes={**axes, "logits": {0: "batch_size"}},
                opset_version=opset or _FALLBACK_OPSET,
                dynamo=False,
                do_constant_folding=True,
            )
    finally:
        # DESIGN §1: the exporter can leave a wrapped model in training mode (dropout on).
        wrapper.eval()
        model.eval()
    model.config.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _logits_only(model: Any) -> Any:
    """Wrap a classifier so the exported graph has one output named ``logits``."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: Any) -> Any:
            names = ("input_ids", "attention_mask", "token_type_ids")
            return self.model(**dict(zip(names, args, strict=False))).logits

    return LogitsOnly()


def ensure_tokenizer_json(model_dir: Path, out: Path) -> None:
    """Make sure the export has a fast tokenizer file (``tokenizers`` needs tokenizer.json).

    Raises:
        ExportError: the student's tokenizer has no fast version.
    """
    if (out / "tokenizer.json").is_file():
        return

    tokenizer = load_local("AutoTokenizer", model_dir, use_fast=True)
    if not getattr(tokenizer, "is_fast", False):
        raise ExportError(
            "the student's tokenizer has no fast (tokenizer.json) version",
            "serving reads tokenizer.json with the tokenizers library; save a fast tokenizer",
        )
    tokenizer.save_pretrained(out)
    for name in _TOKENIZER_FILES:
        if not (out / name).is_file() and (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out / name)
