"""The worker-process wire protocol: JSON lines on stdout, a cancel file, exit codes.

Every line the worker writes to stdout is one JSON object with ``v`` (protocol version),
``run``, ``time`` and ``kind``:

- ``started``  ``{"stage", "resumed", "pid"}``
- ``progress`` ``{"fraction", "message"}``
- ``metric``   ``{"name", "value", "step"}``
- ``finished`` ``{"status": "succeeded" | "cancelled", "result"}``
- ``error``    ``{"error_class", "message", "hint", "log"}``

Anything else on stdout (a library's print) is not JSON and is ignored by readers. A cancel
is requested by creating the run folder's ``cancel.request`` file (or SIGTERM); the worker
saves what lets it resume, then exits 0. A second cancel kills it.

The exit codes below are those of every ``stillroom`` command too (README "Exit codes").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1
CANCEL_FILE = "cancel.request"
LOG_FILE = "worker.log"

EXIT_OK = 0  # succeeded, or cancelled cleanly
EXIT_CHECK_FAILED = 1  # a check said no: evaluate under the floor, bundle or audit verify
EXIT_USER_ERROR = 2  # bad input or environment (or the stage is already running): fix, retry
EXIT_OUT_OF_MEMORY = 3  # the stage ran out of host or GPU memory
EXIT_CRASH = 4  # an internal error (a bug): the stack, without data, is in the named log
EXIT_INTERRUPTED = 130  # Ctrl-C in the terminal (the shell's convention)

EXIT_CODES_HELP = (
    "Exit codes: 0 success (or a clean cancel); 1 a check failed (evaluate under the floor, "
    "bundle verify, audit verify); 2 bad input or environment, including a stage that is "
    "already running on the project (the message says what to change); 3 out of memory; "
    "4 internal error (the message names the log with the stack; no data is in it); "
    "130 interrupted with Ctrl-C."
)


def encode(event: dict[str, Any]) -> str:
    """One event as a single JSON line (no embedded newlines)."""
    return json.dumps({"v": PROTOCOL_VERSION, **event}, separators=(",", ":"))


def decode(line: str | bytes) -> dict[str, Any] | None:
    """Parse one stdout line; None for anything that is not a protocol event."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("v") != PROTOCOL_VERSION or "kind" not in event:
        return None
    return event


def cancel_path(run_dir: Path) -> Path:
    return run_dir / CANCEL_FILE


def request_cancel(run_dir: Path) -> None:
    """Ask the run's worker to stop at its next batch boundary."""
    cancel_path(run_dir).touch(mode=0o600, exist_ok=True)
