"""One run of a stage at a time per project: an OS file lock per stage.

Two ``stillroom anonymize DIR`` at once would both redo every record (and audit it twice);
with pseudonyms the second died on a constraint error. The run lifecycle
(:func:`core.jobs.execute.execute_run`) therefore holds ``runs/.locks/<stage>.lock`` while a
stage runs, and the callers that create a run first take the same lock around that too, so
a refused second run leaves no ``runs`` row and no audit entry behind.

The lock is ``flock`` on POSIX (a byte-range lock on Windows): the operating system drops it
when the process ends, however it ends, so a kill -9 never leaves a stale lock. The file
holds the holder's pid, for the message. A process that already holds a stage's lock may
take it again (the CLI takes it before creating the run, then the run lifecycle takes it).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from core.errors import RunError
from core.project import Project
from core.store.db import user_errors

LOCKS_DIR = ".locks"
_WINDOWS_LOCK_OFFSET = 1 << 30  # lock a byte far past the pid, which others must still read


class StageBusyError(RunError):
    """The stage is already running on this project in another process (exit 2)."""

    def __init__(self, stage: str, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"{stage} is already running on this project ({who})",
            "wait for it to finish, or stop it (Cancel in the window, Ctrl-C in its terminal), "
            "then run this again; `stillroom status DIR` shows what is running",
        )
        self.stage = stage
        self.pid = pid


_held: dict[Path, tuple[IO[bytes], int]] = {}  # lock file → (open handle, depth)
_held_guard = threading.Lock()


def lock_path(project: Project, stage: str) -> Path:
    return project.runs_dir / LOCKS_DIR / f"{stage}.lock"


@contextlib.contextmanager
def stage_lock(project: Project, stage: str) -> Iterator[None]:
    """Hold the stage's lock for the ``with`` block (re-entrant within this process).

    Raises:
        StageBusyError: another process holds it.
        StoreError: the lock file cannot be created (a read-only or full project).
    """
    path = lock_path(project, stage)
    _acquire(path, stage)
    try:
        yield
    finally:
        _release(path)


def ensure_stage_free(project: Project, stage: str) -> None:
    """Refuse now if another process holds the stage's lock.

    A check for callers that cannot hold the lock themselves (the window, whose worker
    process takes it); the worker's own acquisition is what enforces it.

    Raises:
        StageBusyError: another process holds it.
    """
    path = lock_path(project, stage)
    with _held_guard:
        if path in _held or not path.is_file():
            return
    try:
        handle = open(path, "r+b")  # noqa: SIM115 — closed below; closing drops the probe
    except OSError:
        return  # the worker's own acquisition reports what is wrong
    with handle:
        if not _try_lock(handle):
            raise StageBusyError(stage, _read_pid(handle))


def _acquire(path: Path, stage: str) -> None:
    with _held_guard:
        if path in _held:
            handle, depth = _held[path]
            _held[path] = (handle, depth + 1)
            return
        with user_errors():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+b")
        if not _try_lock(handle):
            pid = _read_pid(handle)
            handle.close()
            raise StageBusyError(stage, pid)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode("ascii"))
        handle.flush()
        _held[path] = (handle, 1)


def _release(path: Path) -> None:
    with _held_guard:
        handle, depth = _held[path]
        if depth > 1:
            _held[path] = (handle, depth - 1)
            return
        del _held[path]
        handle.close()  # closing the file drops the lock


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(_WINDOWS_LOCK_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_pid(handle: IO[bytes]) -> int | None:
    """The holder's pid; None if it has not written it yet (it is taking the lock now)."""
    handle.seek(0)
    text = handle.read(32).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None
