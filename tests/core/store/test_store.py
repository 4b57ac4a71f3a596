from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess

import pytest

from core.errors import (
    DatabaseLockedError,
    DiskFullError,
    NotAProjectError,
    ReadOnlyError,
    SchemaTooNewError,
)
from core.project import Project, QualityFloor
from core.store.db import migrate, open_store
from core.store.schema import MIGRATIONS, SCHEMA_VERSION


def _version(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_new_store_is_wal_at_latest_version_with_foreign_keys(project):
    conn = project.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    expected = {
        "datasets",
        "records",
        "anonymized",
        "vault",
        "teacher_outputs",
        "runs",
        "events",
        "metrics",
        "audit",
        "settings",
    }
    assert expected <= tables


def test_migration_backs_up_first_and_bumps_the_version(project):
    db_path = project.store.path
    project.audit("before.migration", {})
    newer = (*MIGRATIONS, "ALTER TABLE datasets ADD COLUMN note TEXT;")
    assert migrate(project.store, newer) == SCHEMA_VERSION
    assert _version(db_path) == SCHEMA_VERSION + 1
    backups = list((project.path / "backups").glob("*.db"))
    assert len(backups) == 1
    assert _version(backups[0]) == SCHEMA_VERSION
    assert oct(backups[0].stat().st_mode & 0o777) == "0o600"
    backup = sqlite3.connect(backups[0])
    actions = [r[0] for r in backup.execute("SELECT action FROM audit")]
    backup.close()
    assert "before.migration" in actions


def test_failed_migration_rolls_back(project):
    broken = (*MIGRATIONS, "ALTER TABLE datasets ADD COLUMN x TEXT; SELECT * FROM nope;")
    with pytest.raises(sqlite3.OperationalError):
        migrate(project.store, broken)
    assert _version(project.store.path) == SCHEMA_VERSION
    columns = [row[1] for row in project.store.conn.execute("PRAGMA table_info(datasets)")]
    assert "x" not in columns


def test_newer_schema_is_refused_and_left_alone(project):
    path = project.store.path
    project.store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    project.close()
    with pytest.raises(SchemaTooNewError, match="newer Stillroom"):
        Project.open(path.parent)
    assert _version(path) == SCHEMA_VERSION + 5


def test_folder_without_store_is_not_a_project(tmp_path):
    with pytest.raises(NotAProjectError, match="not a Stillroom project") as info:
        Project.open(tmp_path)
    assert "stillroom init" in info.value.hint


def test_a_foreign_sqlite_file_is_not_a_project(tmp_path):
    sqlite3.connect(tmp_path / "stillroom.db").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(NotAProjectError, match="not a Stillroom project"):
        Project.open(tmp_path)


def test_a_garbage_store_file_is_not_a_project(tmp_path):
    (tmp_path / "stillroom.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(NotAProjectError, match="damaged or another kind of file"):
        Project.open(tmp_path)


def test_locked_database_gives_a_clear_error(project):
    holder = sqlite3.connect(project.store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = open_store(project.store.path, busy_timeout_s=0.2)
        with (
            contextlib.closing(store.conn),
            pytest.raises(DatabaseLockedError, match="locked by another process") as info,
        ):
            _insert_setting(store)
        assert "close other Stillroom" in info.value.hint
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _insert_setting(store) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO settings VALUES ('k', '1')")


def _fill(store, rows: int, size: int) -> None:
    with store.transaction() as conn:
        for i in range(rows):
            conn.execute("INSERT INTO settings VALUES (?, ?)", (f"k{i}", "x" * size))


def test_full_database_rolls_back_and_says_so(project):
    pages = project.store.scalar("PRAGMA page_count")
    project.store.conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    with pytest.raises(DiskFullError, match="full"):
        _fill(project.store, 200, 2000)
    assert project.store.scalar("SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'") == 0


@contextlib.contextmanager
def _mounted(target, *options: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a small or read-only filesystem needs root")
    target.mkdir(exist_ok=True)
    result = subprocess.run(["mount", *options, str(target)], capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip("this machine does not allow mounts")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_a_really_full_disk_is_reported(tmp_path):
    with (
        _mounted(tmp_path / "small", "-t", "tmpfs", "-o", "size=512k", "tmpfs") as small,
        Project.create(small / "p", task="classification", floor=QualityFloor(0.9)) as p,
    ):
        with pytest.raises(DiskFullError):
            _fill(p.store, 2000, 4000)
        assert p.store.scalar("SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'") == 0


def _open_and_write(path) -> None:
    with Project.open(path) as p:
        p.audit("write.attempt", {})


def test_a_read_only_disk_is_reported(tmp_path):
    source = tmp_path / "src"
    Project.create(source / "p", task="classification", floor=QualityFloor(0.9)).close()
    with _mounted(tmp_path / "ro", "--bind", str(source)) as ro:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        with pytest.raises((ReadOnlyError, NotAProjectError)) as info:
            _open_and_write(ro / "p")
        assert "writable" in info.value.hint or "cannot" in info.value.message
