"""Connection handling for the project store: pragmas, transactions, migrations, errors.

SQLite errors that a user can act on (locked, full, read-only) become :class:`UserError`
subclasses here, in one place, so every stage reports them the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import (
    DatabaseLockedError,
    DiskFullError,
    NotAProjectError,
    ReadOnlyError,
    SchemaTooNewError,
    StoreError,
)
from core.store.schema import APPLICATION_ID, MIGRATIONS, Migration

DEFAULT_BUSY_TIMEOUT_S = 10.0


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def translate_sqlite_error(exc: sqlite3.Error) -> StoreError | None:
    """The user-facing error for a SQLite failure, or None if it is a bug."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return DatabaseLockedError(
            "the project database is locked by another process",
            "close other Stillroom windows or commands using this project, then retry",
        )
    if name.startswith("SQLITE_FULL") or "database or disk is full" in text:
        return DiskFullError(
            "the disk holding the project is full; nothing was written",
            "free some space (or move the project to a larger disk) and retry",
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or "readonly" in text:
        return ReadOnlyError(
            "the project database cannot be written",
            "check that the project folder is on a writable disk and that you own it",
        )
    return None


def translate_os_error(exc: OSError) -> StoreError | None:
    """The user-facing error for a failed file write, or None if it is a bug."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(
            "the disk holding the project is full",
            "free some space (or move the project to a larger disk) and retry",
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ReadOnlyError(
            "the project folder cannot be written",
            "check that the project is on a writable disk and that you own it",
        )
    return None


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Re-raise locked/full/read-only failures as :class:`StoreError` subclasses."""
    try:
        yield
    except sqlite3.Error as exc:
        translated = translate_sqlite_error(exc)
        if translated is None:
            raise
        raise translated from exc
    except OSError as exc:
        translated = translate_os_error(exc)
        if translated is None:
            raise
        raise translated from exc


class Store:
    """One connection to a project's ``stillroom.db``.

    The connection runs in autocommit mode; :meth:`transaction` groups writes that belong
    together, so a killed process leaves the database as it was before the group.
    """

    def __init__(self, path: Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.path = path
        with user_errors():
            self.conn = sqlite3.connect(
                path, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False
            )
        try:
            with user_errors():
                self.conn.execute("PRAGMA foreign_keys = ON")
                self.conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise _damaged(path) from exc
        self._depth = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one ``BEGIN IMMEDIATE`` transaction; nested blocks join it."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        with user_errors():
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """All rows of a query, as dicts."""
        with user_errors():
            cursor = self.conn.execute(sql, params)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        with user_errors():
            row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()


def create_store(path: Path) -> Store:
    """Create a new store file with the latest schema, readable by the owner only."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    store = Store(path)
    with user_errors():
        store.conn.execute("PRAGMA journal_mode = WAL")
        store.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    migrate(store, MIGRATIONS)
    return store


def open_store(path: Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Store:
    """Open an existing store, migrating it (after a backup) if it is older than the code.

    Raises:
        NotAProjectError: the file is not a Stillroom database.
        SchemaTooNewError: a newer Stillroom wrote it.
        StoreError: it is locked, read-only or the disk is full.
    """
    if not path.is_file():
        raise NotAProjectError(
            f"{path.parent} is not a Stillroom project (no {path.name})",
            "create one with `stillroom init DIR`, or pick the project folder",
        )
    store = Store(path, busy_timeout_s=busy_timeout_s)
    try:
        _check_identity(store)
        migrate(store, MIGRATIONS)
    except BaseException:
        store.close()
        raise
    return store


def _damaged(path: Path) -> NotAProjectError:
    return NotAProjectError(
        f"{path} is not a Stillroom database (it is damaged or another kind of file)",
        "pick the project folder, or restore stillroom.db from a backup in backups/",
    )


def _check_identity(store: Store) -> None:
    try:
        with user_errors():
            app_id = store.conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _damaged(store.path) from exc
    if app_id != APPLICATION_ID:
        raise NotAProjectError(
            f"{store.path} is a SQLite file but not a Stillroom project",
            "pick the folder that `stillroom init` created",
        )


def migrate(store: Store, migrations: Sequence[Migration]) -> int:
    """Bring the store up to ``len(migrations)``, backing it up first if it had data.

    Returns:
        The version the store was at before.

    Raises:
        SchemaTooNewError: the store's version is newer than ``migrations`` knows.
    """
    with user_errors():
        current = int(store.conn.execute("PRAGMA user_version").fetchone()[0])
    latest = len(migrations)
    if current > latest:
        raise SchemaTooNewError(
            f"this project was written by a newer Stillroom (schema {current}; "
            f"this version knows up to {latest})",
            "open it with the newer Stillroom, or update this installation",
        )
    if current == latest:
        return current
    if current > 0:
        backup_store(store, f"v{current}")
    with store.transaction() as conn:
        for version in range(current, latest):
            step = migrations[version]
            if callable(step):
                step(conn)
                continue
            for statement in _statements(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {latest}")
    return current


def backup_store(store: Store, tag: str) -> Path:
    """Copy the live database to ``backups/`` next to it with SQLite's online backup."""
    folder = store.path.parent / "backups"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{store.path.stem}.{tag}.{stamp}.db"
    with user_errors():
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        dest = sqlite3.connect(target)
        try:
            store.conn.backup(dest)
        finally:
            dest.close()
    return target


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into complete statements (triggers contain semicolons)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending.strip()
            pending = ""
    if pending.strip(" \n;"):
        yield pending.strip()
