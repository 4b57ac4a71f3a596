"""``stillroom serve``: a verified bundle behind MLServer until stopped (DESIGN §10).

Order: check the options; verify the bundle (signature, every checksum; a tampered bundle
never gets further); check that the ports are free; load the model; open the prediction log;
start the background worker if asked; then run MLServer (REST and gRPC on the Open
Inference Protocol v2, Prometheus on its own port) in this thread's event loop until
Ctrl-C/SIGTERM or ``should_stop()``. Nothing is downloaded and nothing phones home: MLServer's
tracing and Kafka stay off, and the process's egress guard allows loopback only (the
shadow teacher's host is allowed in the background worker alone).

Why MLServer (not KServe's model server): it is the v2 runtime that KServe and Seldon deploy,
its pins install beside ours (KServe 0.21 would downgrade pandas and psutil and pull the
Kubernetes client), and it has REST, gRPC and Prometheus built in.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BundleVerifyError
from core.export.integrity import load_verified_bundle
from core.serve.config import ServeConfig, ServeError, ServeResult
from core.serve.served import ServedModel
from core.serve.stats import ServeStats

_TICK_S = 1.0


class BundleRefused(ServeError):
    """The bundle failed verification: nothing was loaded, nothing is served (exit 2)."""


@dataclass(frozen=True, slots=True)
class Started:
    """Where a started server listens (handed to ``on_ready``)."""

    url: str
    model: str
    metrics_url: str
    grpc: str
    log_dir: Path
    provider: str


def serve(
    config: ServeConfig,
    *,
    on_ready: Callable[[Started], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_tick: Callable[[ServeStats], None] | None = None,
) -> ServeResult:
    """Serve ``config.bundle`` until stopped; returns what it did.

    Raises:
        ServeError: a bad option, a busy port, a generation bundle, CUDA without
            onnxruntime-gpu; :class:`BundleRefused` when the bundle fails verification.
        BundleError: nothing readable as a bundle is at ``config.bundle``.
    """
    config.validate()
    if importlib.util.find_spec("mlserver") is None:
        raise ServeError(
            "`stillroom serve` needs MLServer, which this install does not have",
            "install Stillroom with the serve extra: pip install 'stillroom[serve]' "
            "(docs/INSTALL.md, 'Serve')",
        )
    if config.bundle is None:
        raise ServeError("no bundle to serve", "pass the folder or .zip `stillroom export` wrote")
    with _verified(config) as verified:
        from core.serve.served import load_served

        for port in (config.port, config.grpc_port, config.metrics_port):
            check_port_free(config.host, port)
        model = load_served(verified, config)
        started = time.monotonic()
        with _context(config, model) as (context, token):
            info = Started(
                url=f"http://{_url_host(config.host)}:{config.port}", model=model.name,
                metrics_url=f"http://{_url_host(config.host)}:{config.metrics_port}/metrics",
                grpc=f"{_url_host(config.host)}:{config.grpc_port}",
                log_dir=context.log.folder, provider=model.provider,
            )  # fmt: skip
            context.on_ready = None if on_ready is None else (lambda: on_ready(info))
            from core.serve.mlserver_app import run_mlserver

            run_mlserver(config, model, token, should_stop, lambda: _tick(on_tick, context.stats))
            return _result(info, model, context.stats, time.monotonic() - started)


def _tick(on_tick: Callable[[ServeStats], None] | None, stats: ServeStats) -> None:
    if on_tick is not None:
        on_tick(stats)


@contextlib.contextmanager
def _verified(config: ServeConfig) -> Iterator[Any]:
    assert config.bundle is not None
    try:
        with load_verified_bundle(config.bundle, key=config.key) as verified:
            yield verified
    except BundleVerifyError as exc:
        raise BundleRefused(f"refusing to serve: {exc.message}", exc.hint) from None


@contextlib.contextmanager
def _context(config: ServeConfig, model: ServedModel) -> Iterator[tuple[Any, str]]:
    """The serving context (log, counters, batcher, background), registered; closed after."""
    from core.serve.context import build_context
    from core.serve.runtime import register, unregister

    context = build_context(config, model)
    token = register(context)
    try:
        yield context, token
    finally:
        unregister(token)
        context.batcher.close()
        if context.background is not None:
            context.background.close()
        context.log.close()


def check_port_free(host: str, port: int) -> None:
    """Raise ServeError when ``host:port`` cannot be listened on (in use, or not ours).

    Raises:
        ServeError: binding fails.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {host}:{port} ({exc.strerror or type(exc).__name__})",
                "pick free ports with --port, --grpc-port and --metrics-port, or stop what "
                "uses them",
            ) from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for trial servers and tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _url_host(host: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"[{shown}]" if ":" in shown else shown


def _result(info: Started, model: ServedModel, stats: ServeStats, seconds: float) -> ServeResult:
    p50, p99 = stats.percentiles()
    return ServeResult(
        url=info.url, model=model.name, bundle_sha=model.bundle_sha,
        requests=stats.requests, errors=stats.errors, p50_ms=p50, p99_ms=p99,
        shadow_sampled=stats.shadow_sampled, shadow_answered=stats.shadow_answered,
        shadow_agreement=stats.agreement, shadow_dropped=stats.shadow_dropped,
        log_dir=info.log_dir, seconds=round(seconds, 3),
    )  # fmt: skip


def announce(info: Started) -> None:
    """The lines a person starting the server reads (stderr: stdout stays for --json)."""
    sys.stderr.write(
        f"stillroom serve: model {info.model!r} ready on {info.url} (Open Inference Protocol "
        f"v2, {info.provider}); gRPC {info.grpc}; metrics {info.metrics_url}; prediction log "
        f"{info.log_dir}. Ctrl-C stops it.\n"
    )
    sys.stderr.flush()
