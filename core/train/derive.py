"""Deriving a smaller student from a larger local model by keeping evenly spaced layers.

DistilBERT initialises its student from the teacher's own weights, one layer in two (Sanh et
al., 2019); "shrink and fine-tune" (Shleifer & Rush, 2020) keeps the first and the last
layer and spreads the rest evenly, which suits any K. Embeddings, final norm, pooler and
heads are kept as they are. The result is a normal Hugging Face folder that plain
transformers loads, with ``derivation.json`` recording where it came from.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import StudentModelError
from core.train.students import read_config

DERIVATION_FILE = "derivation.json"
# Config entries that must agree for the teacher's layers to fit the --derive model's shape.
_SHAPE_KEYS = ("model_type", "hidden_size", "num_attention_heads", "intermediate_size",
               "vocab_size", "num_key_value_heads")  # fmt: skip
ENCODER_FAMILY = frozenset({"bert", "roberta", "xlm-roberta", "electra", "camembert"})
DECODER_FAMILY = frozenset({"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2"})


@dataclass(frozen=True, slots=True)
class DerivedStudent:
    folder: Path
    source: Path
    model_type: str
    source_layers: int
    kept_layers: tuple[int, ...]


def evenly_spaced(total: int, keep: int) -> list[int]:
    """``keep`` layer indices out of ``total``, first and last included, evenly spread.

    >>> evenly_spaced(6, 3), evenly_spaced(12, 4), evenly_spaced(6, 1)
    ([0, 3, 5], [0, 4, 7, 11], [5])
    """
    if keep == 1:
        return [total - 1]
    return [int((i * (total - 1)) / (keep - 1) + 0.5) for i in range(keep)]


def derive_warnings(derived: DerivedStudent, *, lora: bool, task: str) -> list[str]:
    """What a derived student is unlikely to recover from, in plain words.

    Issue 17: a 30-layer decoder cut to 6 layers and trained with LoRA ended with a
    validation loss worse than uniform and wrote word salad.
    """
    kept, total = len(derived.kept_layers), derived.source_layers
    notes = []
    if lora:
        notes.append(
            f"LoRA on a derived student ({kept} of {total} layers): the dropped layers' work "
            "has to be relearnt by every weight, which small adapters cannot do; train it "
            "with a full fine-tune (leave out --lora)"
        )
    if task == "generation" and kept * 3 < total:
        notes.append(
            f"the student keeps {kept} of {total} layers: a decoder cut by more than two "
            f"thirds rarely recovers on a small dataset; keep at least {-(-total // 3)} "
            "layers, or give it much more data and epochs"
        )
    return notes


def default_layers(source: Path) -> tuple[int, int]:
    """The layers a derived student keeps when none are asked, and the source's depth.

    Raises:
        StudentModelError: ``source`` has no readable config.json.
    """
    keep, total, _ = layer_default(source)
    return keep, total


def layer_default(source: Path) -> tuple[int, int, str]:
    """:func:`default_layers` and why, in a few words (:func:`kept_by_default`).

    Raises:
        StudentModelError: ``source`` has no readable config.json.
    """
    config = read_config(source)
    total = int(config.get("num_hidden_layers") or 0)
    keep, why = kept_by_default(str(config.get("model_type", "")), total)
    return keep, total, why


def kept_by_default(model_type: str, total: int) -> tuple[int, str]:
    """The layers a derived student of a ``total``-layer ``model_type`` keeps when none are
    asked, and why, in a few words (the Train page shows it).

    Two thirds of a decoder's (issue 17: a decoder cut by more than that wrote word salad
    after training on a small dataset), half of an encoder's (DistilBERT's one in two).
    """
    if total < 2:
        return 1, "the model has no layer to spare"  # derive_student says so
    if model_type in DECODER_FAMILY:
        share = 2 / 3
        why = "two thirds of a text generator's layers: one cut further rarely recovers"
    else:
        share, why = 1 / 2, "half of an encoder's layers, as DistilBERT keeps one in two"
    return min(max(math.ceil(total * share), 1), total - 1), why


def derive_student(source: Path, layers: int, target: Path) -> DerivedStudent:
    """Build a ``layers``-layer copy of ``source`` in ``target`` (reused if already there).

    Raises:
        StudentModelError: the architecture is not a BERT-family encoder or Llama-family
            decoder, ``layers`` is not smaller than the source's depth, or loading fails.
    """
    config = read_config(source)
    model_type = str(config.get("model_type", ""))
    total = int(config.get("num_hidden_layers") or 0)
    _check_derivable(source, model_type, total, layers)
    keep = evenly_spaced(total, layers)
    derived = DerivedStudent(target, source, model_type, total, tuple(keep))
    if _already_derived(target, source, keep):
        return derived
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build in a scratch folder and rename, so a kill never leaves a half-written student.
    scratch = Path(tempfile.mkdtemp(prefix=".derive-", dir=target.parent))
    try:
        _build(source, config, keep, scratch)
        record = {
            "source": str(source),
            "model_type": model_type,
            "source_layers": total,
            "kept_layers": keep,
            "method": "evenly spaced layers, first and last kept",
        }
        (scratch / DERIVATION_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        if _already_derived(target, source, keep):
            return derived  # another process of a multi-GPU launch was first
        shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(scratch, target)
        except OSError:
            if not _already_derived(target, source, keep):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return derived


def _already_derived(target: Path, source: Path, keep: list[int]) -> bool:
    if not (target / "config.json").is_file() or not (target / DERIVATION_FILE).is_file():
        return False
    recorded = json.loads((target / DERIVATION_FILE).read_text(encoding="utf-8"))
    return bool(recorded.get("kept_layers") == keep and recorded.get("source") == str(source))


def _check_derivable(source: Path, model_type: str, total: int, layers: int) -> None:
    if model_type not in ENCODER_FAMILY | DECODER_FAMILY:
        raise StudentModelError(
            f"cannot derive a student from {source.name}: {model_type or 'unknown'} models are "
            "not supported for layer dropping",
            "derive from a BERT-family encoder (bert, roberta, xlm-roberta, electra) or a "
            "Llama-family decoder (llama, mistral, qwen2, qwen3, gemma), or pass --student",
        )
    if not 1 <= layers < total:
        raise StudentModelError(
            f"{source.name} has {total} layers; a derived student must keep between 1 and "
            f"{total - 1}",
            f"pass --layers K with K < {total}",
        )


def _build(source: Path, config: dict[str, Any], keep: list[int], out: Path) -> None:
    import transformers
    from torch import nn

    architectures = [str(a) for a in config.get("architectures") or []]
    loader = getattr(transformers, architectures[0], None) if architectures else None
    loader = loader or transformers.AutoModel
    tokenizer_loader: Any = transformers.AutoTokenizer
    try:
        model = loader.from_pretrained(source, local_files_only=True)
        tokenizer = tokenizer_loader.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise StudentModelError(
            f"{source} cannot be loaded to derive a student ({type(exc).__name__})",
            "pass a complete local model folder (config.json, weights, tokenizer)",
        ) from exc
    parent, attribute, stack = _layer_stack(model, len(keep), int(config["num_hidden_layers"]))
    kept = nn.ModuleList([stack[i] for i in keep])
    for new_index, layer in enumerate(kept):
        # Decoders index their KV cache by layer_idx; it must follow the new numbering.
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                setattr(module, "layer_idx", new_index)  # noqa: B010 — Module's typed setattr
    setattr(parent, attribute, kept)
    model.config.num_hidden_layers = len(keep)
    layer_types = getattr(model.config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) == len(stack):
        model.config.layer_types = [layer_types[i] for i in keep]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _layer_stack(model: Any, keep: int, total: int) -> tuple[Any, str, Any]:
    """The module holding the transformer blocks, its attribute name, and the block list."""
    from torch import nn

    for name, module in model.named_modules():
        if (
            isinstance(module, nn.ModuleList)
            and len(module) == total
            and name.endswith(("layer", "layers"))
        ):
            parent_name, _, attribute = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            return parent, attribute, module
    raise StudentModelError(
        f"no stack of {total} layers found in {type(model).__name__}; cannot keep {keep}",
        "pass a standard transformers model, or a --student folder",
    )


def teacher_folder(project: Any, teacher_id: str) -> Path | None:
    """The local model folder of a ``hf:`` teacher, if it is still the one that taught.

    The teacher id holds the folder's name and digest; the folder itself is in the teach
    run's config. None for endpoint or label teachers, or a folder that changed since.
    """
    from core.jobs.registry import TEACH
    from core.jobs.runs import latest, run_config
    from core.teacher.models import folder_digest

    if not teacher_id.startswith("hf:"):
        return None
    found = latest(project, TEACH, where=lambda r: r.teacher_id == teacher_id)
    if found is None:
        return None
    spec = run_config(project, TEACH, found.run).teacher
    folder = Path(spec.removeprefix("hf:")).expanduser()
    digest = teacher_id.split("@", 1)[-1].split("?", 1)[0]
    if not (folder / "config.json").is_file() or folder_digest(folder) != digest:
        return None
    return folder


def same_family(
    teacher: Path, source: Path, labels: tuple[str, ...], task: str, layers: int | None
) -> str | None:
    """Why the teacher's weights cannot stand in for ``source``'s, or None when they can.

    They can when the shapes agree (type, widths, vocabulary), the teacher has more than
    ``layers`` layers and, for classification, its head predicts the project's labels in
    the project's order (its head is kept).
    """
    ours, theirs = read_config(source), read_config(teacher)
    for key in _SHAPE_KEYS:
        if ours.get(key) != theirs.get(key):
            return f"its {key} differs from {source.name}'s"
    depth = int(theirs.get("num_hidden_layers") or 0)
    if layers is not None and depth <= layers:
        return f"it has {depth} layers, not more than the {layers} asked"
    if task != "classification":
        return None
    names = [str(name) for _, name in sorted(
        (int(k), v) for k, v in (theirs.get("id2label") or {}).items())]  # fmt: skip
    if tuple(names) != labels:
        return "its classifier head is not in the project's label order"
    return None
