"""Crash logs: where an internal error happened, never what it said.

Exception messages may quote row contents (a tokenizer error with the text, a database
error with a value), so a crash log holds exception classes and stack frames only. A run's
log is ``runs/<run_id>/worker.log``; errors outside a project go to :func:`user_log_dir`.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from core.store.db import utc_now

CLI_LOG = "cli-errors.log"


def user_log_dir() -> Path:
    """``$STILLROOM_CACHE/logs`` or ``~/.cache/stillroom/logs`` (next to converted models)."""
    root = os.environ.get("STILLROOM_CACHE") or Path.home() / ".cache" / "stillroom"
    return Path(root) / "logs"


def write_crash_log(log: Path, exc: BaseException) -> Path:
    """Append where ``exc`` happened (and its causes) to ``log``, created mode 0600.

    Returns:
        ``log``.
    """
    lines = [f"{utc_now()} {type(exc).__module__}.{type(exc).__qualname__}\n"]
    lines += traceback.format_tb(exc.__traceback__)
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        lines.append(f"caused by {type(cause).__module__}.{type(cause).__qualname__}\n")
        lines += traceback.format_tb(cause.__traceback__)
        cause = cause.__cause__ or cause.__context__
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.writelines(lines)
    os.chmod(log, 0o600)
    return log
