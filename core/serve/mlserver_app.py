"""MLServer, configured for one Stillroom model and run in this thread's event loop.

Settings are built here, never read from the environment or a ``.env`` file (MLServer reads
both by default): what the operator passed is what runs. Tracing and Kafka stay off; the
inference runs in this process (``parallel_workers=0``: the batcher shares the cores), and
the model repository is an empty private folder. Two changes to MLServer's REST app: the
model repository endpoints (load/unload any model) are removed, since nothing here should
swap the model at run time; and FastAPI's request validation errors (a malformed body)
answer ``{"error": …}`` like every other error of the protocol, instead of ``{"detail": …}``.
Bodies larger than the limits allow are refused (413) before they are parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from core.serve.config import INPUT_NAME, ServeConfig
from core.serve.runtime import CONTEXT_KEY
from core.serve.served import ServedModel

_WATCH_S = 0.25
_TICK_EVERY = 4  # ticks (stats to the caller) every 4 watches: once a second
_LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "stillroom serve: %(name)s: %(message)s"}},
    "filters": {"shutdown": {"()": "core.serve.mlserver_app.ShutdownNoise"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
            "filters": ["shutdown"],
        },
    },
    "loggers": {
        name: {"handlers": ["stderr"], "level": "WARNING", "propagate": False}
        for name in (
            "mlserver",
            "mlserver.rest",
            "mlserver.grpc",
            "mlserver.metrics",
            "uvicorn",
            "uvicorn.error",
            "uvicorn.access",
        )
    },
}


class ShutdownNoise(logging.Filter):
    """Drops uvicorn's traceback of its lifespan task being cancelled on a normal stop."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, asyncio.CancelledError):
            return False
        # uvicorn logs that traceback as the message text itself.
        return not record.getMessage().rstrip().endswith("asyncio.exceptions.CancelledError")


def run_mlserver(
    config: ServeConfig,
    model: ServedModel,
    token: str,
    should_stop: Callable[[], bool] | None,
    tick: Callable[[], None],
) -> None:
    """Serve until SIGINT/SIGTERM (MLServer's handlers) or ``should_stop()``."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover — uvloop comes with MLServer on Linux and macOS
        factory = None
    with (
        tempfile.TemporaryDirectory(prefix="stillroom-serve-repo-") as repository,
        asyncio.Runner(loop_factory=factory) as runner,
    ):
        runner.run(_serve(config, model, token, repository, should_stop, tick))


async def _serve(
    config: ServeConfig,
    model: ServedModel,
    token: str,
    repository: str,
    should_stop: Callable[[], bool] | None,
    tick: Callable[[], None],
) -> None:
    from mlserver import MLServer

    server = MLServer(_settings(config, repository))
    _harden(server._rest_server._app, config, partial(_log_error, token))
    watcher = asyncio.get_running_loop().create_task(_watch(server, should_stop, tick))
    try:
        await server.start([_model_settings(model, token)])
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        tick()


async def _watch(
    server: Any, should_stop: Callable[[], bool] | None, tick: Callable[[], None]
) -> None:
    beats = 0
    while True:
        await asyncio.sleep(_WATCH_S)
        beats += 1
        if beats % _TICK_EVERY == 0:
            tick()
        if should_stop is not None and should_stop():
            await server.stop()
            return


def _settings(config: ServeConfig, repository: str) -> Any:
    from mlserver.settings import Settings

    return Settings(
        _env_file=None,
        debug=False,
        host=config.host,
        http_port=config.port,
        grpc_port=config.grpc_port,
        metrics_port=config.metrics_port,
        metrics_endpoint="/metrics",
        parallel_workers=0,
        model_repository_root=repository,
        load_models_at_startup=False,
        kafka_enabled=False,
        tracing_server=None,
        server_name="stillroom",
        logging_settings=_LOGGING,
        grpc_max_message_length=_body_limit(config),
    )


def _model_settings(model: ServedModel, token: str) -> Any:
    from mlserver.settings import ModelParameters, ModelSettings
    from mlserver.types import MetadataTensor

    width = len(model.labels)
    return ModelSettings(
        _env_file=None,
        name=model.name,
        implementation="core.serve.runtime.StillroomModel",
        platform="onnxruntime",
        versions=[f"bundle-sha256/{model.bundle_sha}"],
        inputs=[MetadataTensor(name=INPUT_NAME, datatype="BYTES", shape=[-1])],
        outputs=[
            MetadataTensor(name="label", datatype="BYTES", shape=[-1]),
            MetadataTensor(name="probabilities", datatype="FP32", shape=[-1, width]),
            MetadataTensor(name="confidence", datatype="FP32", shape=[-1]),
        ],
        parameters=ModelParameters(_env_file=None, extra={CONTEXT_KEY: token}),
    )


def _body_limit(config: ServeConfig) -> int:
    # JSON escaping can double a text's size; a little room for the envelope.
    return config.max_request_texts * config.max_text_bytes * 2 + (1 << 16)


def _log_error(token: str, status: int, kind: str) -> None:
    """Log a request refused before it reached the model (malformed, or over the size
    limit), as the model logs the requests it refuses."""
    from core.serve.runtime import context_of, record_error

    context = context_of(token)
    if context is not None:
        record_error(context, uuid.uuid4().hex, status, kind, None)


def _harden(app: Any, config: ServeConfig, on_error: Callable[[int, str], None]) -> None:
    from fastapi.exceptions import RequestValidationError
    from mlserver.rest.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.router.routes = [
        route for route in app.router.routes
        if not str(getattr(route, "path", "")).startswith("/v2/repository")
    ]  # fmt: skip

    async def malformed(request: Any, exc: RequestValidationError) -> Any:
        first = (exc.errors() or [{}])[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        message = f"malformed request: {where}: {first.get('msg', 'invalid')}"
        on_error(400, "bad_request")
        return Response(status_code=400, content={"error": message})

    async def not_found(request: Any, exc: StarletteHTTPException) -> Any:
        return Response(status_code=exc.status_code, content={"error": str(exc.detail)})

    app.add_exception_handler(RequestValidationError, malformed)
    app.add_exception_handler(StarletteHTTPException, not_found)
    limit = _body_limit(config)

    @app.middleware("http")  # type: ignore[untyped-decorator]  # app is MLServer's (Any)
    async def body_limit(request: Any, call_next: Any) -> Any:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            on_error(413, "too_large")
            return Response(
                status_code=413, content={"error": f"request body over {limit:,} bytes"}
            )
        return await call_next(request)
