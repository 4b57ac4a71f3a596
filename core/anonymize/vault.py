"""The pseudonym vault: surrogate ↔ original, originals encrypted, never exported.

One 32-byte project secret is kept in the OS keyring where the ``keyring`` package has a
working backend, else in ``vault.key`` in the project folder (mode 0600). Exports must leave
that file out (:data:`SECRET_FILES`). From the secret, HKDF derives separate keys for
encrypting originals (Fernet), for the lookup digests, for the hash operator, and for
seeding surrogates, so that none of them reveals another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import VaultKeyError
from core.project import Project
from core.store import anonymized
from core.store.anonymized import VaultEntry

KEY_FILE = "vault.key"
SECRET_FILES = (KEY_FILE,)
"""Files in a project folder that hold secrets and must never be exported or bundled."""
KEYRING_SERVICE = "stillroom-vault"
_CHECK_SETTING = "vault.key_check"
_ID_SETTING = "vault.id"


@dataclass(frozen=True, slots=True)
class VaultKeys:
    encryption: bytes
    digest: bytes
    hashing: bytes
    surrogate: bytes
    source: str  # "keyring" or "file"

    def check_value(self) -> str:
        """A value that identifies the key without revealing it (stored in settings)."""
        return hmac.new(self.digest, b"stillroom vault key check", hashlib.sha256).hexdigest()[:16]


def _derive(secret: bytes, source: str) -> VaultKeys:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def part(label: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret)

    return VaultKeys(
        encryption=base64.urlsafe_b64encode(part(b"stillroom vault encryption")),
        digest=part(b"stillroom vault digest"),
        hashing=part(b"stillroom hash operator"),
        surrogate=part(b"stillroom surrogate seed"),
        source=source,
    )


def usable_keyring() -> Any:
    """The ``keyring`` module if it is installed and has a real backend, else None."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
        priority = float(getattr(backend, "priority", 0))
    except Exception:  # noqa: BLE001 — backends fail in many ways (no D-Bus, locked store)
        return None
    return keyring if priority > 0 else None


def load_keys(project: Project, *, create: bool) -> VaultKeys:
    """The project's vault keys; creates the secret on first use if ``create``.

    Raises:
        VaultKeyError: the secret is missing although the vault was set up, unreadable, or
            does not match the one the vault was written with.
    """
    check = project.setting(_CHECK_SETTING)
    secret, source = _read_secret(project)
    if secret is None:
        if check is not None or not create:
            raise VaultKeyError(
                "the pseudonym vault key of this project is missing",
                f"restore {KEY_FILE} into the project folder from your backup (or log in to "
                "the keyring that holds it); without it pseudonyms cannot be kept consistent",
            )
        secret, source = _create_secret(project)
    keys = _derive(secret, source)
    if check is None:
        project.set_setting(_CHECK_SETTING, keys.check_value())
    elif check != keys.check_value():
        raise VaultKeyError(
            "the vault key does not match this project's vault",
            f"put back the {KEY_FILE} this project was anonymized with",
        )
    return keys


def _read_secret(project: Project) -> tuple[bytes | None, str]:
    path = project.path / KEY_FILE
    if path.is_file():
        try:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            return base64.urlsafe_b64decode(path.read_bytes().strip()), "file"
        except (OSError, ValueError) as exc:
            raise VaultKeyError(
                f"cannot read the vault key {path}", "check the file's owner and permissions"
            ) from exc
    ring, vault_id = usable_keyring(), project.setting(_ID_SETTING)
    if ring is not None and vault_id:
        try:
            stored = ring.get_password(KEYRING_SERVICE, vault_id)
        except Exception:  # noqa: BLE001 — a locked or broken keyring reads as "no key"
            stored = None
        if stored:
            return base64.urlsafe_b64decode(stored), "keyring"
    return None, ""


def _create_secret(project: Project) -> tuple[bytes, str]:
    secret = secrets.token_bytes(32)
    encoded = base64.urlsafe_b64encode(secret).decode("ascii")
    ring = usable_keyring()
    if ring is not None:
        vault_id = project.setting(_ID_SETTING) or secrets.token_hex(8)
        try:
            ring.set_password(KEYRING_SERVICE, vault_id, encoded)
        except Exception:  # noqa: BLE001 — fall back to the key file below
            ring = None
        else:
            project.set_setting(_ID_SETTING, vault_id)
            return secret, "keyring"
    path = project.path / KEY_FILE
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(encoded + "\n")
    except OSError as exc:
        raise VaultKeyError(
            f"cannot create the vault key {path}", "check that the project folder is writable"
        ) from exc
    return secret, "file"


def keyed_digest(key: bytes, entity: str, normalized: str) -> str:
    """HMAC-SHA256 of an entity type and a normalised value, hex."""
    message = f"{entity}\x1f{normalized}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class Vault:
    """The vault table seen from one run: cached lookups, pending inserts per batch."""

    def __init__(self, project: Project, keys: VaultKeys) -> None:
        from cryptography.fernet import Fernet

        self._fernet = Fernet(keys.encryption)
        self.keys = keys
        rows = anonymized.vault_surrogates(project.store)
        self._by_digest = {(entity, digest): surrogate for entity, digest, surrogate in rows}
        self._used = {surrogate.casefold() for _, _, surrogate in rows}
        self._pending: list[VaultEntry] = []

    def lookup(self, entity: str, normalized: str) -> tuple[str, str | None]:
        """The digest of a value and its surrogate, if it has one already."""
        digest = keyed_digest(self.keys.digest, entity, normalized)
        return digest, self._by_digest.get((entity, digest))

    def is_free(self, surrogate: str) -> bool:
        return surrogate.casefold() not in self._used

    def add(self, entity: str, digest: str, surrogate: str, original: str) -> None:
        """Remember a new pair; written by :meth:`flush` in the batch's transaction."""
        self._by_digest[(entity, digest)] = surrogate
        self._used.add(surrogate.casefold())
        token = self._fernet.encrypt(original.encode("utf-8"))
        self._pending.append((entity, digest, surrogate, token))

    def flush(self, project: Project) -> int:
        """Store the pending pairs (inside the caller's transaction)."""
        anonymized.add_vault_entries(project.store, self._pending)
        count, self._pending = len(self._pending), []
        return count


def restore_originals(project: Project, text: str) -> str:
    """Put the originals back in place of pseudonyms (teacher outputs, locally only).

    Raises:
        VaultKeyError: the vault key is missing or wrong.
    """
    import re

    from cryptography.fernet import Fernet, InvalidToken

    keys = load_keys(project, create=False)
    fernet = Fernet(keys.encryption)
    pairs: dict[str, str] = {}
    for surrogate, token in anonymized.vault_originals(project.store):
        try:
            pairs[surrogate.casefold()] = fernet.decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise VaultKeyError(
                "a vault entry cannot be decrypted with this project's key",
                f"put back the {KEY_FILE} this project was anonymized with",
            ) from exc
    if not pairs:
        return text
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(re.escape(s) for s in sorted(pairs, key=len, reverse=True))
        + r")(?!\w)",
        re.IGNORECASE,
    )
    return pattern.sub(lambda m: pairs[m.group(0).casefold()], text)


def key_file(project_path: Path) -> Path:
    """Where the key file of a project lives (whether or not it exists)."""
    return project_path / KEY_FILE
