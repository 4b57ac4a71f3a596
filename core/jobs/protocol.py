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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1
CANCEL_FILE = "cancel.request"
LOG_FILE = "worker.log"

EXIT_OK = 0  # succeeded, or cancelled cleanly
EXIT_CRASH = 1  # a bug: see the run's worker.log
EXIT_USER_ERROR = 2  # bad input or environment; the message says what to change
EXIT_OUT_OF_MEMORY = 3  # the stage ran out of host or GPU memory


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
