"""A bundle to serve, and ``stillroom serve`` started for real in a subprocess on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.serve.server import free_port

ROOT = Path(__file__).parents[3]
READY_TIMEOUT_S = 90.0


def build_bundle(root: Path) -> Path:
    """Export the tiny student of the export tests (real evaluate and export stages)."""
    from evaluate_helpers import build_trained_student, cached
    from export_helpers import build_project

    from core.evaluate.config import EvaluateConfig
    from core.export.config import ExportConfig
    from core.jobs.execute import run_stage
    from core.jobs.registry import EVALUATE, EXPORT

    student = cached("tiny-student", build_trained_student)
    with build_project(root, student) as project:
        config = EvaluateConfig(measure_latency=False, quantize_baseline=False)
        run_stage(project, EVALUATE, config)
        run_stage(project, EXPORT, ExportConfig(out=root / "bundle", name="tiny"))
    return root / "bundle"


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    metrics_url: str
    log_dir: Path
    stderr: Path

    def infer_url(self, model: str = "tiny") -> str:
        return f"{self.url}/v2/models/{model}/infer"


def serve_command(bundle: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "core.cli", "serve", str(bundle), *args]


def environment() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("STILLROOM_BUNDLE_KEY", None)
    return env


@contextlib.contextmanager
def running_server(bundle: Path, tmp: Path, *args: str) -> Iterator[Running]:
    """``stillroom serve`` on free loopback ports until the block ends (then Ctrl-C)."""
    pytest.importorskip("mlserver")  # the `serve` extra
    tmp.mkdir(parents=True, exist_ok=True)
    port, grpc, metrics = free_port(), free_port(), free_port()
    log_dir = tmp / f"log-{port}"
    stderr = tmp / f"serve-{port}.err"
    command = serve_command(
        bundle, "--port", str(port), "--grpc-port", str(grpc), "--metrics-port", str(metrics),
        "--log-dir", str(log_dir), *args,
    )  # fmt: skip
    with open(stderr, "wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=environment(), stdout=err, stderr=err)
    running = Running(process, f"http://127.0.0.1:{port}",
                      f"http://127.0.0.1:{metrics}/metrics", log_dir, stderr)  # fmt: skip
    try:
        wait_ready(running)
        yield running
    finally:
        stop(process)


def wait_ready(running: Running) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"the server exited: {running.stderr.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{running.url}/v2/health/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("the server did not become ready in time")


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return int(process.returncode)


def infer_body(*texts: str, name: str = "text", datatype: str = "BYTES") -> dict[str, object]:
    return {"inputs": [{"name": name, "shape": [len(texts)], "datatype": datatype,
                        "data": list(texts)}]}  # fmt: skip
