"""Student models: finding a local folder, checking it can do the task, loading it, LoRA.

A student is any local Hugging Face folder (a ``.gguf`` file is converted once to a folder,
as for teachers) or one derived from a larger local model (``derive.py``). Nothing is ever
fetched from a hub.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import StudentModelError, TeacherModelError

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_FOLDER_HINT = (
    "pass a folder written by save_pretrained (config.json, the weights and the tokenizer), "
    "or a .gguf file; Stillroom never downloads models"
)
_CAUSAL_NEED = (
    "generation needs a decoder-only causal LM (an architecture ending in ForCausalLM: "
    "Llama, Qwen2, Mistral, GPT-2, SmolLM2…)"
)
_CLASSIFIER_NEED = (
    "classification needs a model with a sequence-classification variant: an encoder such "
    "as BERT, MiniLM, RoBERTa or DeBERTa (or a Llama-family decoder)"
)
_PICK_HINT = "pass --student PATH (or --derive PATH --layers K) with such a model"


# LoRA target modules per model type; the attention projections, which adapt well on
# small data (Hu et al., 2021). Anything else falls back to peft's own table.
LORA_PRESETS: dict[str, tuple[str, ...]] = {
    "bert": ("query", "key", "value"),
    "roberta": ("query", "key", "value"),
    "xlm-roberta": ("query", "key", "value"),
    "electra": ("query", "key", "value"),
    "deberta-v2": ("query_proj", "key_proj", "value_proj"),
    "distilbert": ("q_lin", "k_lin", "v_lin"),
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "mistral": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qwen2": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qwen3": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "gemma": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "phi3": ("qkv_proj", "o_proj"),
    "gpt2": ("c_attn", "c_proj"),
}


def resolve_student_folder(spec: str) -> Path:
    """The local folder a student path names (converting a ``.gguf`` once, cached).

    Raises:
        StudentModelError: the path does not exist or is not a model folder.
    """
    from core.teacher.models import gguf_folder

    path = Path(spec).expanduser()
    if not path.exists():
        raise StudentModelError(f"the student model {spec} does not exist on this machine",
                                _FOLDER_HINT)  # fmt: skip
    path = path.resolve()
    ggufs = [path] if path.suffix == ".gguf" else []
    if path.is_dir() and not (path / "config.json").is_file():
        ggufs = sorted(path.glob("*.gguf"))[:1]
    if ggufs:
        try:
            return gguf_folder(ggufs[0])
        except TeacherModelError as exc:
            raise StudentModelError(exc.message, exc.hint) from exc
    if not path.is_dir() or not (path / "config.json").is_file():
        raise StudentModelError(f"{path} is not a model folder (no config.json)", _FOLDER_HINT)
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in path.iterdir()):
        raise StudentModelError(f"{path} has a config.json but no weights", _FOLDER_HINT)
    return path


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's config.json as a dict.

    Raises:
        StudentModelError: it is missing or not JSON.
    """
    try:
        value = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudentModelError(f"{folder / 'config.json'} cannot be read as JSON",
                                _FOLDER_HINT) from exc  # fmt: skip
    if not isinstance(value, dict):
        raise StudentModelError(f"{folder / 'config.json'} is not a model config", _FOLDER_HINT)
    return value


def check_task_fit(folder: Path, task: str) -> None:
    """Refuse a student whose architecture cannot do the task, naming what would.

    Raises:
        StudentModelError: an encoder for generation, or a model without a
            sequence-classification variant for classification.
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    )

    config = read_config(folder)
    model_type = str(config.get("model_type", ""))
    architectures = [str(a) for a in config.get("architectures") or []]
    shown = ", ".join(architectures) or model_type or "unknown"
    if task == "generation":
        causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
        if not causal or config.get("is_encoder_decoder"):
            raise StudentModelError(
                f"{folder.name} ({shown}) cannot generate text: {_CAUSAL_NEED}", _PICK_HINT
            )
        return
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise StudentModelError(
            f"{folder.name} ({shown}) has no sequence-classification variant: {_CLASSIFIER_NEED}",
            _PICK_HINT,
        )


def load_tokenizer(folder: Path) -> Any:
    """The student's tokenizer, with a pad token (decoders often lack one).

    Raises:
        StudentModelError: it cannot be loaded.
    """
    from transformers import AutoTokenizer

    tokenizer = _load(AutoTokenizer, folder, "tokenizer")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def load_student(folder: Path, task: str, labels: tuple[str, ...], tokenizer: Any) -> Any:
    """The student model for the task: a classifier with the project's labels, or a causal LM.

    A folder whose head has another label count gets a new head (its encoder is kept).

    Raises:
        StudentModelError: the weights cannot be loaded.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    # fp32 master weights whatever the file holds: mixed precision is autocast's job.
    if task == "generation":
        model = _load(AutoModelForCausalLM, folder, "model", dtype=torch.float32)
    else:
        model = _load(
            AutoModelForSequenceClassification, folder, "model", dtype=torch.float32,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)},
            ignore_mismatched_sizes=True,
        )  # fmt: skip
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def lora_targets(model_type: str, override: tuple[str, ...] | None) -> list[str] | None:
    """The modules LoRA adapts: the user's list, the preset, or None (peft's own default)."""
    if override:
        return list(override)
    preset = LORA_PRESETS.get(model_type)
    return None if preset is None else list(preset)


def wrap_lora(model: Any, task: str, rank: int, alpha: int, targets: tuple[str, ...] | None) -> Any:
    """Wrap ``model`` in LoRA adapters; a classifier's head stays fully trainable.

    Raises:
        StudentModelError: peft has no LoRA targets for this architecture.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    model_type = str(model.config.model_type)
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM,
        r=rank, lora_alpha=alpha, lora_dropout=0.05,
        target_modules=lora_targets(model_type, targets),
    )  # fmt: skip
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise StudentModelError(
            f"LoRA has no preset target modules for {model_type} models",
            "name them with --lora-targets (e.g. q_proj,v_proj), or train without --lora",
        ) from exc


def _load(loader: Any, folder: Path, what: str, **kwargs: Any) -> Any:
    try:
        return loader.from_pretrained(folder, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, ImportError, TypeError) as exc:
        raise StudentModelError(
            f"the {what} in {folder} cannot be loaded ({type(exc).__name__})", _FOLDER_HINT
        ) from exc
