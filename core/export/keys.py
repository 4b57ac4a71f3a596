"""The key that signs a project's bundles: the project's own, or an organisation's.

By default each project has its own Ed25519 key, created on first use in
``PROJECT/keys/bundle_signing.key`` (PEM, PKCS#8, unencrypted, mode 0600 in a 0700 folder;
its creation is audited). An organisation that wants one key for all its projects passes
``stillroom export --signing-key PATH`` instead: that file must be owner-only too (like
ssh, Stillroom refuses a key others can read). Either way IT pins the *public* key, which
``stillroom keys export-public`` writes; the private key never goes into a bundle.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.errors import SigningKeyError
from core.export.signature import Signer
from core.project import Project
from core.store.db import user_errors

KEY_DIR = "keys"
KEY_FILE = "bundle_signing.key"
_NEW_KEY_HINT = (
    "create an Ed25519 key with `openssl genpkey -algorithm ed25519 -out KEY` and "
    "`chmod 600 KEY`, or leave --signing-key out to use the project's own key"
)


def project_key_path(project: Project) -> Path:
    """Where the project's signing key lives (it may not exist yet)."""
    return project.path / KEY_DIR / KEY_FILE


def signer_for(project: Project, signing_key: Path | None) -> Signer:
    """The organisation key at ``signing_key``, else the project's own (created if needed).

    Raises:
        SigningKeyError: the key file is unreadable, readable by others, encrypted, or not
            an Ed25519 private key.
    """
    if signing_key is not None:
        return load_signer(Path(signing_key).expanduser(), "organisation")
    path = project_key_path(project)
    if not path.exists():
        _create_project_key(project, path)
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:  # ours: tighten rather than refuse
            os.chmod(path, 0o600)
    return load_signer(path, "project")


def load_signer(path: Path, source: str) -> Signer:
    """An Ed25519 private key from an owner-only PEM (PKCS#8) file.

    Raises:
        SigningKeyError: as :func:`signer_for`.
    """
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the signing key {path}", _NEW_KEY_HINT) from exc
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise SigningKeyError(
            f"the signing key {path} is readable by other users "
            f"(mode {stat.S_IMODE(mode):04o}); a signing key must be owner-only",
            f"chmod 600 {path}",
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise SigningKeyError(
            f"the signing key {path} is encrypted",
            "Stillroom reads unencrypted PKCS#8 PEM keys kept owner-only (mode 0600)",
        ) from exc
    except ValueError as exc:
        raise SigningKeyError(f"{path} is not a PEM private key", _NEW_KEY_HINT) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"{path} is a {type(key).__name__.removeprefix('_')} key; bundles are signed with "
            "Ed25519",
            _NEW_KEY_HINT,
        )
    return Signer(key, source, path)


def _create_project_key(project: Project, path: Path) -> None:
    """Write a fresh key atomically; a concurrent first export keeps whichever came first."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with user_errors():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd, scratch = tempfile.mkstemp(prefix=".key-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(scratch, path)  # fails if it exists: never replace a key in use
            except FileExistsError:
                return
        finally:
            os.unlink(scratch)
    signer = Signer(key, "project", path)
    project.audit("keys.create", {"key_id": signer.key_id, "file": f"{KEY_DIR}/{KEY_FILE}"})


def write_public_key(signer: Signer, out: Path, *, force: bool) -> None:
    """Write the signer's public key (PEM) to ``out`` for IT to pin.

    Raises:
        SigningKeyError: ``out`` exists and ``force`` is off.
        DiskFullError: the disk is full.
        ReadOnlyError: ``out``'s folder cannot be written.
    """
    from core.export.signature import public_pem

    if out.exists() and not force:
        raise SigningKeyError(f"{out} already exists", "choose another --out, or pass --force")
    with user_errors():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(public_pem(signer.public_key), encoding="ascii")
