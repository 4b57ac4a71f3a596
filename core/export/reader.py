"""Opening a bundle (a folder or a zip) and its manifest, for verify and predict.

Light imports only (json, zipfile, numpy, tokenizers, onnxruntime on demand).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import BundleError, BundleVerifyError
from core.export import bundle_format as fmt
from core.export.runtime import OnnxClassifier, TokenizerSettings, load_tokenizer, open_session


@contextlib.contextmanager
def open_bundle(path: Path) -> Iterator[Path]:
    """Yield the bundle's folder; a zip is checked and extracted to a temporary folder first.

    Raises:
        BundleError: nothing is at ``path``, or it is neither a folder nor a zip.
        BundleVerifyError: the zip holds an unsafe entry (``..``, absolute, a link).
    """
    from core.export.safezip import extract_bundle

    path = Path(path).expanduser()
    if path.is_dir():
        yield path.resolve()
        return
    if not path.is_file():
        raise BundleError(
            f"no bundle at {path}", "pass the folder or .zip `stillroom export` wrote"
        )
    if not zipfile.is_zipfile(path):
        raise BundleError(
            f"{path} is neither a bundle folder nor a zip",
            "pass the folder or .zip that `stillroom export` wrote",
        )
    with tempfile.TemporaryDirectory(prefix="stillroom-bundle-") as scratch:
        yield extract_bundle(path, Path(scratch))


def read_manifest(root: Path) -> dict[str, Any]:
    """The bundle's manifest, parsed.

    Raises:
        BundleError: there is no manifest (not a bundle).
        BundleVerifyError: the manifest is not valid JSON.
    """
    return parse_manifest(read_manifest_bytes(root))


def read_manifest_bytes(root: Path) -> bytes:
    """The manifest's exact bytes (what its signature covers).

    Raises:
        BundleError: there is no manifest (not a bundle).
        BundleVerifyError: the manifest cannot be read.
    """
    path = root / fmt.MANIFEST
    if not path.is_file():
        raise BundleError(
            f"{root} has no {fmt.MANIFEST}: it is not a Stillroom bundle",
            "pass the folder or .zip that `stillroom export` wrote",
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BundleVerifyError(fmt.MANIFEST, "cannot be read") from exc


def parse_manifest(data: bytes) -> dict[str, Any]:
    """The manifest's JSON object.

    Raises:
        BundleVerifyError: the bytes are not a JSON object.
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleVerifyError(fmt.MANIFEST, "not valid JSON") from exc
    if not isinstance(value, dict):
        raise BundleVerifyError(fmt.MANIFEST, "not a JSON object")
    return value


def tokenizer_settings(manifest: dict[str, Any]) -> TokenizerSettings:
    """The tokenizer settings the manifest records."""
    return TokenizerSettings.from_manifest(manifest["tokenizer"], int(manifest["max_length"]))


def load_classifier(
    root: Path, manifest: dict[str, Any], *, threads: int | None = None, cpu_only: bool = False
) -> OnnxClassifier:
    """The bundle's shipped model with its tokenizer, ready to run.

    Raises:
        BundleVerifyError: the model or tokenizer file cannot be loaded.
    """
    model = root / manifest["model"]["file"]
    tokenizer = root / manifest["tokenizer"]["file"]
    for path in (model, tokenizer):
        if not path.is_file():
            raise BundleVerifyError(path.name, "missing")
    try:
        loaded = load_tokenizer(tokenizer, tokenizer_settings(manifest))
    except Exception as exc:
        raise BundleVerifyError(tokenizer.name, "cannot be loaded as a tokenizer") from exc
    try:
        session = open_session(model, threads=threads, cpu_only=cpu_only)
    except Exception as exc:
        raise BundleVerifyError(model.name, f"cannot be loaded ({type(exc).__name__})") from exc
    return OnnxClassifier(session, loaded, model)
