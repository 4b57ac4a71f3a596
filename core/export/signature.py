"""The bundle's signature: Ed25519 over the exact bytes of ``manifest.json`` (DESIGN §8).

The manifest's checksums cover every other file; the signature covers the manifest, so no
byte of a bundle can change without ``bundle verify`` noticing. ``signature.json``, beside
the manifest, holds the algorithm, the signer's public key (PEM), its id and the signature
(base64). The key id is ``sha256:`` + the SHA-256 of the key's DER SubjectPublicKeyInfo,
which ``openssl pkey -pubin -in PUB -outform DER | sha256sum`` prints too.

A signature checked against the key *inside* the bundle proves integrity only: whoever
changes a bundle can re-sign it with a key of their own. Proving who signed it needs the
signer's key pinned (``--key PUB``, or ``STILLROOM_BUNDLE_KEY``): IT exports it once with
``stillroom keys export-public``. The signing key itself never goes into a bundle.

Light imports only (cryptography, json, base64, hashlib): ``predict`` starts fast.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.errors import BundleError, BundleVerifyError
from core.export import bundle_format as fmt

ALGORITHM = "ed25519"
SIGNATURE_FORMAT = "stillroom-bundle-signature"
KEY_ENV = "STILLROOM_BUNDLE_KEY"
"""The pinned public key for servers: a PEM file's path, or a key id ``sha256:…``."""
_KEY_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_RESIGN_HINT = "get the bundle again from its source; do not serve this one"


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key that signs manifests, and where it came from (for messages, audit)."""

    private_key: Ed25519PrivateKey
    source: str  # "project" | "organisation"
    path: Path

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """A signature that matched: by which key, and whether that key was pinned."""

    key_id: str
    pinned: bool
    key_source: str  # what the bundle says: "project", "organisation" (unverifiable)


def key_id(public_key: Ed25519PublicKey) -> str:
    """``sha256:`` + the hex SHA-256 of the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), as IT pins it."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def write_signature(root: Path, signer: Signer) -> dict[str, Any]:
    """Sign ``root/manifest.json`` as it is on disk; write ``signature.json`` beside it."""
    data = (root / fmt.MANIFEST).read_bytes()
    document = {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "signed_file": fmt.MANIFEST,
        "signed_sha256": hashlib.sha256(data).hexdigest(),
        "key_id": signer.key_id,
        "key_source": signer.source,
        "public_key": public_pem(signer.public_key),
        "signature": base64.b64encode(signer.private_key.sign(data)).decode("ascii"),
    }
    text = json.dumps(document, indent=2) + "\n"
    (root / fmt.SIGNATURE).write_text(text, encoding="utf-8")
    return document


def pinned_key_id(key: str | Path | None) -> str | None:
    """The key id a bundle must be signed by: from ``key`` (a PEM file or a key id), else
    from ``$STILLROOM_BUNDLE_KEY``, else None (not pinned).

    Raises:
        BundleError: the key is neither a readable Ed25519 public key PEM nor a key id.
    """
    if key is None or str(key) == "":
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        return None
    text = str(key).strip()
    if _KEY_ID.match(text):
        return text
    return key_id(load_public_key(Path(text).expanduser()))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file.

    Raises:
        BundleError: the file is missing or holds no Ed25519 public key.
    """
    hint = "pass the PEM file `stillroom keys export-public` wrote, or a key id sha256:…"
    try:
        loaded = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read a public key from {path}", hint) from exc
    if not isinstance(loaded, Ed25519PublicKey):
        raise BundleError(f"{path} is not an Ed25519 public key", hint)
    return loaded


def check_signature(root: Path, manifest_bytes: bytes, pinned: str | None) -> SignatureCheck:
    """Check ``signature.json`` against the manifest's exact bytes (and the pinned key).

    Raises:
        BundleVerifyError: the signature is missing, malformed, by another key than the
            pinned one, or does not match the manifest.
    """
    document = _read_document(root)
    public = _embedded_key(document)
    found = key_id(public)
    if document.get("key_id") != found:
        raise BundleVerifyError(fmt.SIGNATURE, "its key_id does not match its public key")
    if pinned is not None and found != pinned:
        raise BundleVerifyError(
            fmt.SIGNATURE,
            f"signed by key {found}, not by the pinned key {pinned}: the bundle was re-signed "
            "by someone else, or the wrong key is pinned",
            _RESIGN_HINT,
        )
    try:
        public.verify(base64.b64decode(str(document.get("signature")), validate=True),
                      manifest_bytes)  # fmt: skip
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise BundleVerifyError(
            fmt.MANIFEST,
            "the signature does not match: manifest.json was changed after it was signed",
            _RESIGN_HINT,
        ) from exc
    return SignatureCheck(found, pinned is not None, str(document.get("key_source", "unknown")))


def _read_document(root: Path) -> dict[str, Any]:
    path = root / fmt.SIGNATURE
    if not path.is_file() or path.is_symlink():
        raise BundleVerifyError(
            fmt.SIGNATURE,
            "missing: the bundle is not signed, so nothing vouches for manifest.json",
            "export the bundle again with this version of Stillroom (bundles are signed)",
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BundleVerifyError(fmt.SIGNATURE, "not valid JSON") from exc
    if not isinstance(document, dict):
        raise BundleVerifyError(fmt.SIGNATURE, "not a JSON object")
    if document.get("algorithm") != ALGORITHM or document.get("signed_file") != fmt.MANIFEST:
        raise BundleVerifyError(
            fmt.SIGNATURE,
            f"algorithm {document.get('algorithm')!r} over {document.get('signed_file')!r}: "
            f"expected {ALGORITHM!r} over {fmt.MANIFEST!r}",
        )
    return document


def _embedded_key(document: dict[str, Any]) -> Ed25519PublicKey:
    try:
        loaded = serialization.load_pem_public_key(str(document.get("public_key")).encode())
    except ValueError as exc:
        raise BundleVerifyError(fmt.SIGNATURE, "holds no readable public key") from exc
    if not isinstance(loaded, Ed25519PublicKey):
        raise BundleVerifyError(fmt.SIGNATURE, "its public key is not an Ed25519 key")
    return loaded
