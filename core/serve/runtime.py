"""The MLServer custom runtime: Open Inference Protocol v2 requests in, labels out.

MLServer builds the model class from its settings; what the class needs that is not JSON
(the loaded model, the batcher, the log, the counters) is a :class:`ServeContext`,
registered under a token that the model's settings carry.

A request is checked alone before it joins a batch (:mod:`core.serve.batcher`): one input
named ``text``, datatype ``BYTES``, a flat list of 1 to ``max_request_texts`` non-empty
strings of at most ``max_text_bytes`` each. A bad one is refused with 400 (413 for size) and
``{"error": …}``, and never touches anyone else's request. The answer: ``label`` (BYTES),
``probabilities`` (FP32, texts x labels, in the order of the ``labels`` parameter) and
``confidence`` (FP32, the calibrated probability of the label).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, Parameters, ResponseOutput

from core.serve.batcher import FloatArray, MicroBatcher
from core.serve.config import INPUT_NAME, ServeConfig
from core.serve.fingerprint import fingerprint
from core.serve.predlog import ERROR_KINDS, PredictionLog, utc_now
from core.serve.served import ServedModel
from core.serve.shadow import Background, Sampler
from core.serve.stats import ServeStats

CONTEXT_KEY = "stillroom_context"
_CONTEXTS: dict[str, ServeContext] = {}


class RequestRefused(MLServerError):  # type: ignore[misc]  # MLServer ships no type hints
    """A request this model cannot answer; the status is 400 or 413."""

    def __init__(self, message: str, status: int = 400, kind: str = "bad_request") -> None:
        super().__init__(message, status)
        self.kind = kind


@dataclass
class ServeContext:
    """Everything the model class serves with."""

    model: ServedModel
    config: ServeConfig
    batcher: MicroBatcher
    log: PredictionLog
    stats: ServeStats
    sampler: Sampler
    background: Background | None
    encrypt: Callable[[str], bytes] | None = None
    on_ready: Callable[[], None] | None = None


def register(context: ServeContext) -> str:
    """Make ``context`` findable by the model class; returns its token."""
    token = uuid.uuid4().hex
    _CONTEXTS[token] = context
    return token


def unregister(token: str) -> None:
    _CONTEXTS.pop(token, None)


def context_of(token: str) -> ServeContext | None:
    """The registered context (None once the server has stopped)."""
    return _CONTEXTS.get(token)


class StillroomModel(MLModel):  # type: ignore[misc]  # MLServer ships no type hints
    """A Stillroom classification bundle behind MLServer."""

    async def load(self) -> bool:
        extra = (self.settings.parameters.extra or {}) if self.settings.parameters else {}
        self._context = _CONTEXTS[str(extra[CONTEXT_KEY])]
        if self._context.on_ready is not None:
            self._context.on_ready()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        context: ServeContext = self._context
        start = time.perf_counter()
        request_id = payload.id or uuid.uuid4().hex
        texts: list[str] = []
        try:
            texts = request_texts(payload, context.config)
            rows = await context.batcher.submit(texts)
        except RequestRefused as exc:
            context.stats.refused(exc.kind)
            record_error(context, request_id, exc.status_code, exc.kind, _count(payload))
            raise
        except Exception as exc:  # noqa: BLE001 — the caller gets a 500, never a traceback
            context.stats.refused("internal")
            record_error(context, request_id, 500, "model_error", len(texts) or None)
            raise MLServerError(f"inference failed ({type(exc).__name__})", 500) from None
        response = _response(context.model, request_id, rows)
        latency_ms = (time.perf_counter() - start) * 1000
        _record(context, request_id, texts, rows, latency_ms)
        context.stats.answered(latency_ms)
        return response


def record_error(
    context: ServeContext, request_id: str, status: int, kind: str, texts: int | None
) -> None:
    """Queue one ``errors`` row: the status and a fixed kind, never the request's text nor
    the error's message (a message may quote the input)."""
    kind = kind if kind in ERROR_KINDS else "model_error"
    context.log.append("errors", (utc_now(), request_id, context.model.bundle_sha, status,
                                  kind, texts))  # fmt: skip


def _count(payload: InferenceRequest) -> int | None:
    """How many texts a refused request held, where its shape says so."""
    try:
        data = getattr(payload.inputs[0].data, "root", payload.inputs[0].data)
    except (IndexError, AttributeError):
        return None
    return len(data) if isinstance(data, list) else 1


def request_texts(payload: InferenceRequest, config: ServeConfig) -> list[str]:
    """The texts of a request, or :class:`RequestRefused` saying what is wrong with it.

    Raises:
        RequestRefused: not exactly one BYTES input named ``text`` of 1..N short strings.
    """
    inputs = payload.inputs
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        names = ", ".join(repr(i.name) for i in inputs) or "none"
        raise RequestRefused(
            f"this model takes one input named {INPUT_NAME!r} (BYTES, one text per row); "
            f"the request has {names}"
        )
    tensor = inputs[0]
    datatype = str(getattr(tensor.datatype, "value", tensor.datatype))
    if datatype != "BYTES":
        raise RequestRefused(f"input {INPUT_NAME!r} must be BYTES, not {datatype}")
    data = getattr(tensor.data, "root", tensor.data)
    values = data if isinstance(data, list) else [data]
    if values and all(isinstance(v, list) and len(v) == 1 for v in values):
        values = [v[0] for v in values]  # shape [n, 1]
    if not values:
        raise RequestRefused(f"input {INPUT_NAME!r} holds no text")
    if len(values) > config.max_request_texts:
        raise RequestRefused(
            f"{len(values):,} texts in one request; the limit is {config.max_request_texts:,}",
            413, "too_large",
        )  # fmt: skip
    texts = []
    for index, value in enumerate(values, 1):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if not isinstance(text, str):
            raise RequestRefused(f"text {index} is not a string")
        size = len(text.encode("utf-8"))
        if size > config.max_text_bytes:
            raise RequestRefused(
                f"text {index} is {size:,} bytes; the limit is {config.max_text_bytes:,}",
                413, "too_large",
            )  # fmt: skip
        if not text.strip():
            raise RequestRefused(f"text {index} is empty")
        texts.append(text)
    return texts


def _response(model: ServedModel, request_id: str, rows: FloatArray) -> InferenceResponse:
    count, width = rows.shape
    best = rows.argmax(axis=1)
    labels = [model.labels[int(i)] for i in best]
    confidence = rows[np.arange(count), best]
    return InferenceResponse(
        model_name=model.name,
        id=request_id,
        parameters=Parameters(labels=json.dumps(list(model.labels)),
                              bundle_sha256=model.bundle_sha),
        outputs=[
            ResponseOutput(name="label", shape=[count], datatype="BYTES", data=labels),
            ResponseOutput(name="probabilities", shape=[count, width], datatype="FP32",
                           data=[round(float(p), 6) for p in rows.ravel()]),
            ResponseOutput(name="confidence", shape=[count], datatype="FP32",
                           data=[round(float(c), 6) for c in confidence]),
        ],
    )  # fmt: skip


def _record(
    context: ServeContext, request_id: str, texts: list[str], rows: FloatArray, latency_ms: float
) -> None:
    """Queue one log row per text (no text in it), and the background work it needs."""
    model, now = context.model, utc_now()
    keep = context.config.keep_inputs
    for item, (text, row) in enumerate(zip(texts, rows, strict=True)):
        best = int(row.argmax())
        sampled = context.sampler.pick()
        probabilities = json.dumps([round(float(p), 6) for p in row])
        context.log.append("predictions", (
            now, request_id, item, model.bundle_sha, model.labels[best], probabilities,
            float(row[best]), latency_ms, len(text), fingerprint(text), int(sampled),
        ))  # fmt: skip
        if keep == "encrypted" and context.encrypt is not None:
            context.log.append("inputs", (request_id, item, "encrypted", context.encrypt(text)))
        if context.background is not None and (sampled or keep == "anonymized"):
            context.background.offer(request_id, item, text, model.labels[best], shadow=sampled)
