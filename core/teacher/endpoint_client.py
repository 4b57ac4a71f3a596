"""HTTP to an OpenAI-compatible endpoint (httpx): a pre-flight check, then requests with
retries, a circuit breaker, a concurrency limit and a rate limit.

Failures a user must fix (unreachable, refused key, unknown model) become one
:class:`EndpointError` with a hint. Transient ones (429, 5xx, timeouts, dropped connections,
truncated JSON) are retried. Neither the API key nor any request or reply body ever goes into
an error message: both may hold secrets or record text.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import EgressBlocked, EndpointError
from core.teacher.config import TeachConfig
from core.teacher.openai_wire import MalformedReply, Mode, Reply, model_ids, parse_reply, path_for
from core.teacher.resilience import BreakerGaveUp, CircuitBreaker, RateLimiter, backoff_delay

RETRIABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
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
    return EndpointError(f"cannot reach the teacher endpoint {base_url} ({reason})", _REACH_HINT)


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, EgressBlocked):
            return "blocked by the egress allow-list"
        cause = cause.__cause__ or cause.__context__
    return f"connection failed: {type(exc).__name__}"


def preflight(base_url: str, config: TeachConfig, api_key: str | None) -> str:
    """Check that the endpoint answers, accepts the key and serves the model.

    Returns:
        The base URL to use (``/v1`` appended when the given one lacked it).

    Raises:
        EndpointError: unreachable, key refused, or the model is not served.
    """
    host = urlsplit(base_url).hostname or base_url
    timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
    candidates = [base_url] if base_url.endswith("/v1") else [base_url, f"{base_url}/v1"]
    with httpx.Client(timeout=timeout, headers=_headers(api_key), trust_env=False) as client:
        for candidate in candidates:
            try:
                response = client.get(f"{candidate}/models")
            except httpx.HTTPError as exc:
                raise unreachable(base_url, _reason(exc)) from None
            if response.status_code in (401, 403):
                raise auth_error(response.status_code, config.api_key_env, host, bool(api_key))
            if response.status_code != 200:
                continue  # a gateway without /models: the first request will tell
            try:
                served = model_ids(response.json())
            except ValueError:
                served = None
            if served is not None and config.model not in served:
                shown = ", ".join(served[:8]) or "none"
                raise EndpointError(
                    f"the endpoint does not serve a model named {config.model!r} "
                    f"(it serves: {shown})",
                    "pass one of those with --model",
                )
            return candidate
    return base_url


class EndpointClient:
    """Sends requests to one endpoint from one event loop, politely and persistently."""

    def __init__(self, base_url: str, config: TeachConfig, api_key: str | None) -> None:
        self._base_url, self._config = base_url, config
        self._host = urlsplit(base_url).hostname or base_url
        self._had_key = bool(api_key)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=_headers(api_key),
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=config.concurrency, max_keepalive_connections=config.concurrency
            ),
            trust_env=False,  # never route through a proxy from the environment
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
        """One attempt: a result, or why it failed (retriable) and the server's Retry-After."""
        async with self._semaphore:
            self.requests += 1
            start = time.perf_counter()
            try:
                response = await self._client.post(path_for(mode), json=body)
            except httpx.HTTPError as exc:
                return _reason(exc), None
            latency_ms = (time.perf_counter() - start) * 1000
        status = response.status_code
        if status == 200:
            try:
                reply = parse_reply(mode, json.loads(response.content))
            except (ValueError, MalformedReply):
                return "a truncated or malformed reply", None
            return CallResult(reply, attempt, latency_ms), None
        if status in RETRIABLE_STATUS:
            return f"HTTP {status}", _retry_after(response)
        self._raise_for(status, response, body, attempt)
        raise AssertionError("unreachable")  # pragma: no cover — _raise_for always raises

    def _raise_for(
        self, status: int, response: httpx.Response, body: dict[str, Any], attempt: int
    ) -> None:
        if status in (401, 403):
            raise auth_error(status, self._config.api_key_env, self._host, self._had_key)
        if status == 404:
            raise EndpointError(
                f"the endpoint answered 404 for model {self._config.model!r} "
                f"in {self._config.mode} mode",
                "check --model, and --mode (some servers only offer chat or completions)",
            )
        if status in (400, 422) and "logprobs" in body and b"logprob" in response.content:
            raise LogprobsRejected
        raise RecordFailed(f"HTTP {status}", attempt)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None
