"""Both ends of the worker process: the child's main and the parent's handle on it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any

from core.errors import UserError
from core.jobs import protocol
from core.jobs.crashlog import user_log_dir, write_crash_log
from core.jobs.execute import execute_run
from core.netguard import add_block_listener
from core.project import Project, egress_audit_listener


def worker_main(project_dir: Path, run_id: str, out: IO[str] | None = None) -> int:
    """The child's main: run the stage, write JSON-line events, return the exit code."""
    stream = out or sys.stdout
    lock = threading.Lock()

    def sink(event: dict[str, Any]) -> None:
        with lock:
            stream.write(protocol.encode(event) + "\n")
            stream.flush()

    try:
        project = Project.open(project_dir)
        add_block_listener(egress_audit_listener(project.path))
        with project, _sigterm_requests_cancel(project, run_id):
            return execute_run(project, run_id, sink).exit_code
    except UserError as exc:
        error = {"error_class": type(exc).__name__, "message": exc.message, "hint": exc.hint}
        sink({"run": run_id, "kind": "error", **error})
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 — outside a run (opening the project): still one event
        log = write_crash_log(_crash_log_folder(project_dir, run_id) / protocol.LOG_FILE, exc)
        error = {"error_class": type(exc).__name__,
                 "message": f"the worker stopped on an internal error ({type(exc).__name__})",
                 "hint": f"the details are in {log}", "log": str(log)}  # fmt: skip
        sink({"run": run_id, "kind": "error", **error})
        return protocol.EXIT_CRASH


def _crash_log_folder(project_dir: Path, run_id: str) -> Path:
    run_dir = Path(project_dir) / "runs" / run_id
    return run_dir if run_dir.is_dir() else user_log_dir()


@contextlib.contextmanager
def _sigterm_requests_cancel(project: Project, run_id: str) -> Iterator[None]:
    """SIGTERM (what a service manager or a window closing sends) asks for a clean cancel;
    so does SIGINT, which a Ctrl-C in the terminal that started the worker sends it too."""
    run_dir = project.run_dir(run_id)

    def handler(signum: int, frame: FrameType | None) -> None:
        protocol.request_cancel(run_dir)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def worker_command(project_dir: Path, run_id: str) -> list[str]:
    """The command line that starts a worker: the frozen app itself, or this Python."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "worker", str(project_dir), run_id]
    return [sys.executable, "-m", "core.cli", "worker", str(project_dir), run_id]


class WorkerProcess:
    """A running worker, seen from the parent (the CLI, a test; the GUI uses QProcess)."""

    def __init__(self, project_dir: Path, run_id: str) -> None:
        self.project_dir, self.run_id = Path(project_dir), run_id
        self._cancels = 0
        run_dir = self.project_dir / "runs" / run_id
        log_dir = run_dir if run_dir.is_dir() else run_dir.parent
        # stderr goes to a file: a chatty library must never block the child on a full pipe.
        with open(log_dir / "worker.stderr", "a", encoding="utf-8") as stderr:
            self.process = subprocess.Popen(
                worker_command(self.project_dir, run_id),
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
            )

    def events(self) -> Iterator[dict[str, Any]]:
        """Yield protocol events as the worker writes them, until its stdout closes."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = protocol.decode(line)
            if event is not None:
                yield event

    def cancel(self) -> None:
        """First call: ask for a clean stop. Second call: kill the process."""
        self._cancels += 1
        if self._cancels == 1:
            protocol.request_cancel(self.project_dir / "runs" / self.run_id)
        else:
            self.process.kill()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit code, draining stdout so the child never blocks on it."""
        self.process.communicate(timeout=timeout)
        return self.process.returncode
