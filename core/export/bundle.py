"""Writing the bundle of DESIGN §8 so that a failure never leaves half of one behind.

Everything is written into a hidden staging folder next to the target, flushed to disk,
and only then renamed into place (``os.replace`` within one filesystem is atomic). A full
disk, a crash or a cancel leaves at most that staging folder, which is removed on the way
out; an existing bundle is replaced only once the new one is complete (``--force``).
Bundles are owner-only (0700 folder, 0600 zip) like the project: they hold anonymized
probe texts. The manifest is signed last (``signature.json``, see ``core.export.signature``),
over the exact bytes written; beside it goes the reviewer's blank sign-off form
(``SIGN-OFF.md``, outside the checksums: ``core.export.signoff``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import OutputExistsError
from core.export import bundle_format as fmt
from core.export import targets
from core.export.serving import Serving
from core.export.signature import Signer, write_signature
from core.export.signoff import blank_form
from core.store.db import user_errors

# Files of the exported model folder that a serving stack or ORTModel reads.
MODEL_FOLDER_FILES = (
    "config.json",
    "generation_config.json",
    "ort_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
)


@dataclass(frozen=True, slots=True)
class BundleParts:
    """What goes into a bundle besides the manifest's own fields."""

    model: Path
    model_folder: Path
    labels: list[str]
    probes: dict[str, Any]
    serving: Serving
    card: str = ""
    report: Path | None = None
    variants: dict[str, Path] = field(default_factory=dict)
    extra_json: dict[str, Any] = field(default_factory=dict)


def check_target(out: Path, force: bool) -> None:
    """Refuse an existing output before any work is done.

    Raises:
        OutputExistsError: ``out`` exists and ``force`` is off.
    """
    if (out.exists() or out.is_symlink()) and not force:
        raise OutputExistsError(
            f"{out} already exists; refusing to overwrite it",
            "choose another --out, or pass --force to replace it (only once the new "
            "bundle is complete)",
        )


def write_bundle(
    out: Path,
    parts: BundleParts,
    manifest: dict[str, Any],
    *,
    signer: Signer,
    form: str,
    force: bool,
) -> dict[str, Any]:
    """Assemble the bundle, sign its manifest, then move it into place as ``out`` (a folder
    or a zip).

    Returns:
        The manifest as written (with its ``files`` section).

    Raises:
        OutputExistsError: ``out`` appeared meanwhile and ``force`` is off.
        DiskFullError: the disk filled up (nothing is left behind).
        ReadOnlyError: the target folder cannot be written.
    """
    with user_errors():
        out.parent.mkdir(parents=True, exist_ok=True)
        with _staging(out) as staging:
            written = _assemble(staging, parts, manifest)
            write_signature(staging, signer)
            blank = blank_form(str(manifest.get("name", "")), json_bytes(written))
            (staging / fmt.SIGN_OFF).write_text(blank, encoding="utf-8")
            if form == "zip":
                _publish_zip(staging, out, force)
            else:
                _fsync_tree(staging)
                _publish(staging, out, force)
    return written


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _assemble(root: Path, parts: BundleParts, manifest: dict[str, Any]) -> dict[str, Any]:
    shutil.copyfile(parts.model, root / fmt.MODEL)
    for name, path in parts.variants.items():
        shutil.copyfile(path, root / name)
    for name in MODEL_FOLDER_FILES:
        if (parts.model_folder / name).is_file():
            shutil.copyfile(parts.model_folder / name, root / name)
    _write_json(root / fmt.LABELS, parts.labels)
    _write_json(root / fmt.PROBES, parts.probes)
    for name, value in parts.extra_json.items():
        _write_json(root / name, value)
    if parts.report is not None and parts.report.is_file():
        shutil.copyfile(parts.report, root / fmt.REPORT)
    for target in targets.TARGETS:
        target.write(root, parts.serving, manifest[target.key])
    (root / fmt.MODEL_CARD).write_text(parts.card, encoding="utf-8")
    written = {**manifest, "files": fmt.file_entries(root)}
    _write_json(root / fmt.MANIFEST, written)
    return written


def json_bytes(value: Any) -> bytes:
    """How the bundle's JSON files are written (so the manifest's hash can be recomputed)."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_json(path: Path, value: Any) -> None:
    path.write_bytes(json_bytes(value))


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder, so the rename cannot outrun the data on a power cut."""
    for folder, _, files in os.walk(root):
        for name in [*files, "."]:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _publish(new: Path, out: Path, force: bool) -> None:
    """Move ``new`` (a folder or a zip) to ``out``; an existing ``out`` goes only after."""
    if not (out.exists() or out.is_symlink()):
        os.rename(new, out)
        _fsync_dir(out.parent)
        return
    check_target(out, force)
    old = out.parent / f".{out.name}.replaced-{os.getpid()}"
    os.rename(out, old)
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old, out)  # put the previous bundle back
        raise
    _fsync_dir(out.parent)
    _remove(old)


def _publish_zip(staging: Path, out: Path, force: bool) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.partial-", suffix=".zip", dir=out.parent)
    scratch = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                for relative in sorted([*fmt.bundle_files(staging), *fmt.UNLISTED]):
                    archive.write(staging / relative, relative)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(scratch, out, force)
    finally:
        scratch.unlink(missing_ok=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse fsync on a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
