"""Is a bundle exactly what was exported and signed? The check everything runs before it
loads a model: ``bundle verify``, ``predict``, and any server (:func:`load_verified_bundle`).

In order, stopping at the first problem: the manifest's schema; its Ed25519 signature over
its exact bytes (by the pinned key when one is given); then every listed file's size and
SHA-256, and no file that the manifest does not list. No model is loaded here.

Light imports only (json, hashlib, cryptography): a server pays for hashing and one
signature check, which ``bench/verify_bench.py`` measures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from core.errors import BundleVerifyError
from core.export import bundle_format as fmt
from core.export.reader import open_bundle, parse_manifest, read_manifest_bytes
from core.export.signature import SignatureCheck, check_signature, pinned_key_id

_CHANGED_HINT = "the file was changed or damaged after export; get the bundle again"


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    """A bundle whose manifest is signed and whose files match it, at ``root``.

    ``root`` is the bundle folder (or a temporary extraction of a zip, valid inside
    :func:`load_verified_bundle`'s ``with``).
    """

    root: Path
    manifest: dict[str, Any]
    files_checked: int
    signature: SignatureCheck


@contextlib.contextmanager
def load_verified_bundle(path: Path, *, key: str | Path | None = None) -> Iterator[VerifiedBundle]:
    """Open a bundle and check its signature and checksums before anything loads from it.

    Args:
        path: a bundle folder or zip.
        key: the signer's public key to require (a PEM file or a key id ``sha256:…``);
            default ``$STILLROOM_BUNDLE_KEY``; without either, the key inside the bundle is
            used, which proves integrity but not who signed it (``signature.pinned``).

    Raises:
        BundleError: nothing readable as a bundle is at ``path``, or ``key`` is unusable.
        BundleVerifyError: the signature or a file does not match (nothing was loaded).
    """
    pinned = pinned_key_id(key)
    with open_bundle(path) as root:
        yield check_integrity(root, pinned)


def check_integrity(root: Path, pinned: str | None) -> VerifiedBundle:
    """Schema, signature, then every file's checksum, of the bundle folder at ``root``.

    Raises:
        BundleError: there is no manifest.
        BundleVerifyError: the first check that fails, naming its file.
    """
    data = read_manifest_bytes(root)
    manifest = parse_manifest(data)
    problems = fmt.schema_problems(manifest)
    if problems:
        raise BundleVerifyError(fmt.MANIFEST, "schema: " + "; ".join(problems[:5]))
    signature = check_signature(root, data, pinned)
    recorded = (manifest.get("signing") or {}).get("key_id")
    if recorded is not None and recorded != signature.key_id:
        raise BundleVerifyError(
            fmt.SIGNATURE, f"signed by {signature.key_id}, but the manifest names {recorded}"
        )
    files = check_files(root, manifest["files"])
    return VerifiedBundle(root, manifest, files, signature)


def check_files(root: Path, listed: dict[str, Any]) -> int:
    """Recompute every listed file's size and checksum; refuse unlisted files.

    Raises:
        BundleVerifyError: a file is missing, differs, escapes the bundle, or is not listed.
    """
    for name, entry in sorted(listed.items()):
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
            raise BundleVerifyError(name, "the manifest lists a path outside the bundle")
        path = root.joinpath(*parts)
        if path.is_symlink() or not path.is_file():
            raise BundleVerifyError(name, "missing (or not a plain file)")
        size = path.stat().st_size
        if size != entry["size"]:
            raise BundleVerifyError(
                name, f"size {size:,} bytes, the manifest says {entry['size']:,}", _CHANGED_HINT
            )
        if fmt.sha256_file(path) != entry["sha256"]:
            raise BundleVerifyError(
                name, "checksum mismatch (SHA-256 differs from the manifest)", _CHANGED_HINT
            )
    extra = [name for name in fmt.bundle_files(root) if name not in listed]
    if extra:
        others = f"; {len(extra) - 1} more: {', '.join(extra[1:6])}" if len(extra) > 1 else ""
        raise BundleVerifyError(
            extra[0], f"not listed in the manifest (added after export){others}", _CHANGED_HINT
        )
    return len(listed)


def recorded_audit_head(path: Path, key: str | Path | None = None) -> str:
    """The audit chain head a bundle's signed manifest recorded at export.

    Only the manifest's signature is checked (the head is in the manifest), not the files.

    Raises:
        BundleError: nothing readable as a bundle is at ``path``, or ``key`` is unusable.
        BundleVerifyError: the signature does not match, or records no head.
    """
    pinned = pinned_key_id(key)
    with open_bundle(path) as root:
        data = read_manifest_bytes(root)
        check_signature(root, data, pinned)
        head = parse_manifest(data).get("audit_head")
    if not isinstance(head, str) or len(head) != 64:
        raise BundleVerifyError(fmt.MANIFEST, "records no audit chain head")
    return head
