"""HTTP to an OpenAI-compatible endpoint (httpx): a pre-flight check, then requests with
retries, a circuit breaker, a concurrency limit and a rate limit.

Failures a user must fix (unreachable, refused key, unknown model) become one
:class:`EndpointError` with a hint. Transient ones (429, 5xx, timeouts, dropped connections,
truncated JSON) are retried. Neither the API key nor any request or reply body ever goes into
an error message: both may hold secrets or record text.

A hostile or broken server cannot hold the stage or fill memory: every request has an
overall deadline (``timeout_s``, the body included, so dripping bytes does not help), and an
answer is read as a stream and dropped past ``max_reply_bytes``.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import EgressBlocked, EndpointError
from core.teacher.config import DEFAULT_REPLY_BYTES, REPLY_BYTES_PER_TOKEN, Mode, TeachConfig
from core.teacher.openai_wire import (
    MalformedReply,
    Reply,
    model_ids,
    parse_reply,
    path_for,
    usage_limits,
)
from core.teacher.resilience import BreakerGaveUp, CircuitBreaker, RateLimiter, backoff_delay
from core.teacher.transport import redact_url, tls_verify

RETRIABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MODELS_REPLY_BYTES = 8 << 20  # a gateway may list hundreds of models
TOO_LARGE = "reply too large"
_UNTRUSTED = "TLS certificate not trusted"
_REACH_HINT = (
    "check the URL and port, that the server is running, and that this workstation may "
    "reach it (completed records are kept; re-run the same command to continue)"
)


class RecordFailed(Exception):
    """One record could not be answered after every attempt; it is left for the next run."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason, self.attempts = reason, attempts


class LogprobsRejected(Exception):
    """The server answered 400 to a request that asked for logprobs."""


class ReplyTooLarge(Exception):
    """The answer was longer than the cap; it was not read further."""


@dataclass(frozen=True, slots=True)
class CallResult:
    reply: Reply
    attempts: int
    latency_ms: float


def auth_error(status: int, env_var: str, host: str, had_key: bool) -> EndpointError:
    what = "refused the API key" if had_key else "needs an API key and none was found"
    return EndpointError(
        f"the teacher endpoint {what} (HTTP {status})",
        f"set it in the environment variable {env_var} or in the OS keyring (service "
        f"'stillroom', user '{host}'); Stillroom never stores it in the project",
    )


def unreachable(base_url: str, reason: str) -> EndpointError:
    if reason == _UNTRUSTED:
        return EndpointError(
            f"the teacher endpoint {redact_url(base_url)} has a TLS certificate this "
            "workstation does not trust",
            "pass your organisation's certificate authority (a PEM file) with --ca-bundle PATH",
        )
    return EndpointError(
        f"cannot reach the teacher endpoint {redact_url(base_url)} ({reason})", _REACH_HINT
    )


def reply_cap(config: TeachConfig, body: dict[str, Any]) -> int:
    """The most bytes read of an answer to ``body``: the configured cap, else 1 MiB, or more
    for a long generation."""
    if config.max_reply_bytes is not None:
        return config.max_reply_bytes
    tokens = int(body.get("max_tokens") or 1) * int(body.get("n") or 1)
    return max(DEFAULT_REPLY_BYTES, REPLY_BYTES_PER_TOKEN * tokens)


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The body of a streamed response, or :class:`ReplyTooLarge` past ``cap`` bytes.

    Raises:
        ReplyTooLarge: the declared or received length exceeds ``cap``.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ReplyTooLarge
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise ReplyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def client_options(config: TeachConfig, api_key: str | None) -> dict[str, Any]:
    """What every httpx client of the teacher is built with (never a proxy from the
    environment; the CA bundle when one is given).

    Raises:
        TeacherError: the CA bundle cannot be read.
    """
    return {
        "headers": {"Authorization": f"Bearer {api_key}"} if api_key else {},
        "timeout": httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
        "verify": tls_verify(config.ca_bundle),
        "trust_env": False,
    }


def _reason(exc: BaseException) -> str:
    """Why a request failed, from the exception's type only: httpx messages can quote URLs."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timed out"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, EgressBlocked):
            return "blocked by the egress allow-list"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _UNTRUSTED
        cause = cause.__cause__ or cause.__context__
    return f"connection failed: {type(exc).__name__}"


def preflight(base_url: str, config: TeachConfig, api_key: str | None) -> str:
    """Check that the endpoint answers, accepts the key and serves the model.

    Returns:
        The base URL to use (``/v1`` appended when the given one lacked it).

    Raises:
        EndpointError: unreachable, key refused, or the model is not served.
        TeacherError: the CA bundle cannot be read.
    """
    return asyncio.run(_preflight(base_url, config, api_key))


async def _preflight(base_url: str, config: TeachConfig, api_key: str | None) -> str:
    host = urlsplit(base_url).hostname or base_url
    candidates = [base_url] if base_url.endswith("/v1") else [base_url, f"{base_url}/v1"]
    async with httpx.AsyncClient(**client_options(config, api_key)) as client:
        for candidate in candidates:
            try:
                async with asyncio.timeout(config.timeout_s):
                    status, content = await _get(client, f"{candidate}/models")
            except (httpx.HTTPError, TimeoutError) as exc:
                raise unreachable(base_url, _reason(exc)) from None
            if status in (401, 403):
                raise auth_error(status, config.api_key_env, host, bool(api_key))
            if status != 200:
                continue  # a gateway without /models: the first request will tell
            _check_served(content, config.model)
            return candidate
    return base_url


async def _get(client: httpx.AsyncClient, url: str) -> tuple[int, bytes | None]:
    """A GET's status and body; the body is None when it is too large to check."""
    async with client.stream("GET", url) as response:
        try:
            return response.status_code, await read_capped(response, _MODELS_REPLY_BYTES)
        except ReplyTooLarge:
            return response.status_code, None


def _check_served(content: bytes | None, model: str | None) -> None:
    try:
        served = None if content is None else model_ids(json.loads(content))
    except (ValueError, RecursionError):
        served = None
    if served is not None and model not in served:
        shown = ", ".join(served[:8]) or "none"
        raise EndpointError(
            f"the endpoint does not serve a model named {model!r} (it serves: {shown})",
            "pass one of those with --model",
        )


class EndpointClient:
    """Sends requests to one endpoint from one event loop, politely and persistently."""

    def __init__(self, base_url: str, config: TeachConfig, api_key: str | None) -> None:
        self._base_url, self._config = base_url, config
        self._host = urlsplit(base_url).hostname or base_url
        self._had_key = bool(api_key)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(
                max_connections=config.concurrency, max_keepalive_connections=config.concurrency
            ),
            **client_options(config, api_key),
        )
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._limiter = RateLimiter(config.rate)
        self.breaker = CircuitBreaker(
            config.breaker_threshold, config.breaker_cooldown_s, config.breaker_trips
        )
        self._rng = random.Random()
        self.requests = 0
        self.retries = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, mode: Mode, body: dict[str, Any]) -> CallResult:
        """Send one request until it succeeds or runs out of attempts.

        Raises:
            RecordFailed: every attempt failed transiently, or the server refused this body.
            LogprobsRejected: a 400 to a body that asked for logprobs.
            EndpointError: the key was refused, the model is gone, or the breaker gave up.
        """
        last = "no attempt"
        for attempt in range(1, self._config.max_attempts + 1):
            try:
                await self.breaker.acquire()
            except BreakerGaveUp:
                raise EndpointError(
                    f"the teacher endpoint {self._base_url} kept failing ({last}); stopped "
                    "after the circuit breaker opened "
                    f"{self._config.breaker_trips + 1} times in a row",
                    _REACH_HINT,
                ) from None
            await self._limiter.acquire()
            outcome, retry_after = await self._send(mode, body, attempt)
            if isinstance(outcome, CallResult):
                self.breaker.record_success()
                return outcome
            last = outcome
            self.breaker.record_failure()
            if attempt < self._config.max_attempts:
                self.retries += 1
                delay = backoff_delay(
                    attempt, self._config.backoff_s, retry_after_s=retry_after, rng=self._rng
                )
                await asyncio.sleep(delay)
        raise RecordFailed(last, self._config.max_attempts)

    async def _send(
        self, mode: Mode, body: dict[str, Any], attempt: int
    ) -> tuple[CallResult | str, float | None]:
        """One attempt: a result, or why it failed (retriable) and the server's Retry-After.

        Raises:
            RecordFailed: the answer was too large (asking again would not shrink it).
        """
        async with self._semaphore:
            self.requests += 1
            start = time.perf_counter()
            try:
                # The whole request, body included: a server dripping bytes cannot hold it.
                async with asyncio.timeout(self._config.timeout_s):
                    status, headers, content = await self._post(mode, body)
            except ReplyTooLarge:
                raise RecordFailed(TOO_LARGE, attempt) from None
            except (httpx.HTTPError, TimeoutError) as exc:
                return _reason(exc), None
            latency_ms = (time.perf_counter() - start) * 1000
        if status == 200:
            try:
                reply = parse_reply(mode, json.loads(content), usage_limits(body))
            except (ValueError, RecursionError, MalformedReply):
                return "a truncated or malformed reply", None
            return CallResult(reply, attempt, latency_ms), None
        if status in RETRIABLE_STATUS:
            return f"HTTP {status}", _retry_after(headers)
        self._raise_for(status, content, body, attempt)
        raise AssertionError("unreachable")  # pragma: no cover — _raise_for always raises

    async def _post(self, mode: Mode, body: dict[str, Any]) -> tuple[int, httpx.Headers, bytes]:
        async with self._client.stream("POST", path_for(mode), json=body) as response:
            content = await read_capped(response, reply_cap(self._config, body))
        return response.status_code, response.headers, content

    def _raise_for(self, status: int, content: bytes, body: dict[str, Any], attempt: int) -> None:
        if status in (401, 403):
            raise auth_error(status, self._config.api_key_env, self._host, self._had_key)
        if status == 404:
            raise EndpointError(
                f"the endpoint answered 404 for model {self._config.model!r} "
                f"in {self._config.mode} mode",
                "check --model, and --mode (some servers only offer chat or completions)",
            )
        if status in (400, 422) and "logprobs" in body and b"logprob" in content:
            raise LogprobsRejected
        raise RecordFailed(f"HTTP {status}", attempt)


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None
