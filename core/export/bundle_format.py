"""The bundle's fixed names, the manifest's schema and file checksums (DESIGN §8).

Light on purpose (json and hashlib only): ``bundle verify`` and ``predict`` import it and
must start fast without torch.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORMAT = "stillroom-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"  # beside the manifest; signs its exact bytes (not listed in it)
MODEL = "model.onnx"
MODEL_FP32 = "model_fp32.onnx"
MODEL_FP16 = "model_fp16.onnx"
LABELS = "labels.json"
PROBES = "probes.json"
MODEL_CARD = "MODEL_CARD.md"
REPORT = "report.html"
# The reviewer's form: deliberately outside the checksums and the signature (filled in after
# export; ``core.export.signoff``). Listed nowhere, refused nowhere, reported by verify.
SIGN_OFF = "SIGN-OFF.md"
UNLISTED = (MANIFEST, SIGNATURE, SIGN_OFF)

# key → the JSON type(s) it must have; nested sections are checked one level down. A serving
# target's section (``triton``…) is checked by the target (core.export.targets).
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "format_version": int,
    "name": str,
    "task": str,
    "labels": list,
    "model": dict,
    "tokenizer": dict,
    "max_length": int,
    "calibration": dict,
    "parity": dict,
    "probes": dict,
    "lineage": dict,
    "metrics": dict,
    "quality": dict,
    "versions": dict,
    "audit_head": str,
    "exported_by": str,
    "exported_at": str,
    "files": dict,
}
_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "model": {"file": str, "precision": str, "inputs": list, "outputs": list, "exporter": str},
    "tokenizer": {"file": str, "pad_id": int, "pad_token": str, "input_names": list},
    "calibration": {"temperature": (int, float), "source": str},
    "probes": {"file": str, "count": int, "atol": (int, float)},
    "quality": {"verdict": str},
}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file, read in chunks (models are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def bundle_files(root: Path) -> Iterator[str]:
    """Every regular file under ``root`` except the manifest, its signature and the
    reviewer's sign-off form (:data:`UNLISTED`), sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if relative not in UNLISTED:
                found.append(relative)
    yield from sorted(found)


def file_entries(root: Path) -> dict[str, dict[str, Any]]:
    """``{path: {"sha256", "size"}}`` for every file but :data:`UNLISTED`."""
    return {
        name: {"sha256": sha256_file(root / name), "size": (root / name).stat().st_size}
        for name in bundle_files(root)
    }


def schema_problems(manifest: Any) -> list[str]:
    """What is missing or mistyped in a manifest; empty when it fits the schema."""
    if not isinstance(manifest, dict):
        return ["the manifest is not a JSON object"]
    problems = missing_fields(manifest, _REQUIRED, "")
    if manifest.get("format") != FORMAT:
        problems.append(f"format is {manifest.get('format')!r}, not {FORMAT!r}")
    version = manifest.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        problems.append(f"format_version {version} is newer than this Stillroom reads")
    for section, fields in _SECTIONS.items():
        if isinstance(manifest.get(section), dict):
            problems += missing_fields(manifest[section], fields, f"{section}.")
    for name, entry in (manifest.get("files") or {}).items():
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size"), int)
        ):
            problems.append(f"files.{name} needs a sha256 string and a size")
    return problems


def missing_fields(values: dict[str, Any], fields: dict[str, Any], prefix: str) -> list[str]:
    """What of ``fields`` (name → JSON type) ``values`` lacks or holds with the wrong type."""
    problems = []
    for key, kind in fields.items():
        if key not in values:
            problems.append(f"{prefix}{key} is missing")
        elif not isinstance(values[key], kind) or isinstance(values[key], bool):
            problems.append(f"{prefix}{key} has the wrong type")
    return problems
