"""An OpenAI-compatible endpoint (vLLM, TGI, llama.cpp server, a gateway) as the teacher.

Classification asks for the answer with ``top_logprobs`` and renormalises the probability of
the answer tokens; without logprobs it parses the answer (or samples ``n`` answers and counts
them). An answer outside the label set is retried once with a stricter prompt, then stored
flagged as invalid. Generation keeps the text and each token's top-k logprobs.

Requests run concurrently on one asyncio loop; finished outputs are handed to the stage in
batches as they complete, so a slow request does not hold back the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import replace
from urllib.parse import urlsplit

from core.errors import EndpointError
from core.teacher.base import TeachBatch, TeacherOutput, TeachItem
from core.teacher.config import TeachConfig
from core.teacher.endpoint_client import CallResult, EndpointClient, LogprobsRejected, RecordFailed
from core.teacher.openai_wire import Choice, request_body
from core.teacher.prompts import AnswerMapping, PromptTemplate, letters_mapping, parse_answer
from core.teacher.prompts import render as render_prompt
from core.teacher.softlabels import (
    argmax_label,
    empirical,
    label_logprobs_from_top,
    normalise_token,
    one_hot,
    renormalise,
)
from core.teacher.transport import check_api_key, insecure_http_host

_CLASSIFY_MAX_TOKENS = 4  # room for a leading space or newline before the answer token
_FLUSH_EVERY_S = 1.0
_NO_LOGPROBS = (
    "the endpoint returned no logprobs, so soft labels are parsed answers (one-hot); "
    "enable logprobs on the server, or pass --samples 5 for an empirical distribution"
)


class OpenAICompatibleTeacher:
    """Soft labels or generations from an endpoint; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        config: TeachConfig,
        *,
        task: str,
        labels: tuple[str, ...],
        template: PromptTemplate,
        api_key: str | None,
    ) -> None:
        self._base_url, self._config, self._task = base_url, config, task
        self._labels, self._template, self._api_key = labels, template, api_key
        self.warnings: list[str] = []
        self._logprobs = config.use_logprobs
        self._mapping: AnswerMapping | None = None
        parts = urlsplit(base_url)
        # Never user info (refused in parse_spec anyway): the id is stored and shipped.
        where = f"{parts.netloc.rpartition('@')[2]}{parts.path}"
        shown_t = "auto" if config.temperature is None else f"{config.temperature:g}"
        base_id = f"openai:{where}/{config.model}?mode={config.mode}&t={shown_t}"
        if task == "classification":
            self._mapping = (
                AnswerMapping(labels, "names")
                if config.label_tokens == "names"
                else letters_mapping(labels)  # an endpoint's tokenizer is unknown: letters
            )
            self.teacher_id = f"{base_id}&answers={self._mapping.kind}&n={config.samples}"
        else:
            self.teacher_id = f"{base_id}&max={config.max_new_tokens}"
        self._samples = config.samples
        self.client: EndpointClient | None = None

    def prompt(self, text: str, *, strict: bool = False) -> str:
        return render_prompt(self._template, text, self._mapping, strict=strict)

    # -- the pipeline ----------------------------------------------------------------------

    def outputs(self, items: Iterable[TeachItem]) -> Iterator[TeachBatch]:
        """Drive the async pipeline from synchronous code, one batch per ``next``."""
        loop = asyncio.new_event_loop()
        self.client = EndpointClient(self._base_url, self._config, self._api_key)
        batches = self._pipeline(iter(items))
        try:
            while True:
                try:
                    yield loop.run_until_complete(batches.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(batches.aclose())
            loop.run_until_complete(self.client.aclose())
            loop.close()

    async def _pipeline(self, items: Iterator[TeachItem]) -> AsyncGenerator[TeachBatch, None]:
        window = self._config.concurrency * 2
        flush_size = max(self._config.batch_size, self._config.concurrency)
        pending: set[asyncio.Task[TeacherOutput]] = set()
        done_outputs: list[TeacherOutput] = []
        failed: dict[int, str] = {}
        fatal: EndpointError | None = None
        last_flush = time.monotonic()
        try:
            while True:
                while fatal is None and len(pending) < window:
                    item = next(items, None)
                    if item is None:
                        break
                    pending.add(asyncio.create_task(self._answer(item), name=str(item.record_id)))
                if not pending:
                    break
                done, pending = await asyncio.wait(
                    pending, timeout=_FLUSH_EVERY_S, return_when=asyncio.FIRST_COMPLETED
                )
                fatal = _collect(done, done_outputs, failed) or fatal
                due = time.monotonic() - last_flush >= _FLUSH_EVERY_S
                if (done_outputs or failed) and (len(done_outputs) >= flush_size or due or fatal):
                    yield TeachBatch(done_outputs, failed)
                    done_outputs, failed, last_flush = [], {}, time.monotonic()
                if fatal is not None:
                    break
            if done_outputs or failed:
                yield TeachBatch(done_outputs, failed)
        finally:
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        if fatal is not None:
            raise fatal

    # -- one record ------------------------------------------------------------------------

    async def _answer(self, item: TeachItem) -> TeacherOutput:
        if self._task == "generation":
            return await self._generate(item)
        first = await self._classify(item, strict=False)
        if first.valid:
            return first
        second = await self._classify(item, strict=True)
        return _merge_retry(first, second)

    async def _call(
        self, prompt: str, *, max_tokens: int, n: int, logprobs: int | None
    ) -> CallResult:
        assert self.client is not None
        # Greedy unless sampling several answers; an explicit --temperature always wins.
        temperature = self._config.temperature
        if temperature is None:
            temperature = 1.0 if n > 1 or (self._samples > 1 and logprobs is None) else 0.0
        body = request_body(
            self._config.mode, str(self._config.model), prompt, max_tokens=max_tokens,
            temperature=temperature, n=n, top_logprobs=logprobs,
        )  # fmt: skip
        try:
            return await self.client.call(self._config.mode, body)
        except LogprobsRejected:
            self._no_logprobs()
            body = request_body(
                self._config.mode, str(self._config.model), prompt, max_tokens=max_tokens,
                temperature=temperature, n=n,
            )  # fmt: skip
            return await self.client.call(self._config.mode, body)

    def _no_logprobs(self) -> None:
        if self._logprobs:
            self._logprobs = False
            self.warnings.append(_NO_LOGPROBS)

    async def _classify(self, item: TeachItem, *, strict: bool) -> TeacherOutput:
        prompt = self.prompt(item.text, strict=strict)
        if self._logprobs:
            call = await self._call(
                prompt, max_tokens=_CLASSIFY_MAX_TOKENS, n=1, logprobs=self._config.top_logprobs
            )
            choice = call.reply.choices[0]
            if choice.logprobs is not None:
                return self._from_logprobs(item, call, choice)
            self._no_logprobs()
            if self._samples == 1:
                return self._from_answers(item, [call])
        return self._from_answers(item, await self._sample(prompt))

    async def _sample(self, prompt: str) -> list[CallResult]:
        """``samples`` answers; servers that ignore ``n`` are asked again for the rest."""
        calls: list[CallResult] = []
        answers = 0
        while answers < self._samples:
            call = await self._call(
                prompt, max_tokens=_CLASSIFY_MAX_TOKENS, n=self._samples - answers, logprobs=None
            )
            calls.append(call)
            answers += len(call.reply.choices)
        return calls

    def _from_logprobs(self, item: TeachItem, call: CallResult, choice: Choice) -> TeacherOutput:
        assert self._mapping is not None
        assert choice.logprobs is not None
        answers = [normalise_token(a) for a in self._mapping.answers]
        for position in choice.logprobs:
            if normalise_token(position.token) in answers:
                try:
                    probs, mass = renormalise(label_logprobs_from_top(
                        {position.token: position.logprob, **position.top},
                        self._mapping.answers,
                    ))  # fmt: skip
                except ValueError:  # the answer token came with a logprob of -inf
                    return _output(item, [call], text=choice.text, valid=False,
                                   flag="no_label_probability")  # fmt: skip
                return _output(
                    item, [call], label=argmax_label(probs, self._labels),
                    probabilities=tuple(probs), source="logprobs", mass=mass,
                    text=choice.text, logprobs=[position.as_json()],
                )  # fmt: skip
        return _output(item, [call], text=choice.text, valid=False)

    def _from_answers(self, item: TeachItem, calls: list[CallResult]) -> TeacherOutput:
        assert self._mapping is not None
        texts = [choice.text for call in calls for choice in call.reply.choices]
        parsed = [parse_answer(text, self._mapping) for text in texts]
        found = [label for label in parsed if label is not None]
        if len(texts) > 1:
            vector = empirical(found, self._labels)
            if vector is None:
                return _output(item, calls, text=texts[0], valid=False)
            label, source = argmax_label(vector, self._labels), "samples"
        elif found:
            label, source, vector = found[0], "parsed", one_hot(found[0], self._labels)
        else:
            return _output(item, calls, text=texts[0], valid=False)
        return _output(
            item, calls, label=label, probabilities=tuple(vector), source=source,
            text=texts[0] if len(texts) == 1 else "\n".join(texts),
        )  # fmt: skip

    async def _generate(self, item: TeachItem) -> TeacherOutput:
        top = self._config.top_logprobs if self._logprobs else None
        call = await self._call(
            self.prompt(item.text), max_tokens=self._config.max_new_tokens, n=1, logprobs=top
        )
        choice = call.reply.choices[0]
        logprobs = None if choice.logprobs is None else [t.as_json() for t in choice.logprobs]
        return _output(item, [call], text=choice.text, logprobs=logprobs)

    def close(self) -> None:
        return None


def _collect(
    done: set[asyncio.Task[TeacherOutput]], outputs: list[TeacherOutput], failed: dict[int, str]
) -> EndpointError | None:
    """File finished tasks' outputs and failures; return a fatal error if one raised one.

    Every task's exception is retrieved before anything is raised, so a bug in one record
    does not leave "Task exception was never retrieved" behind for the others.

    Raises:
        Exception: the first unexpected exception a task raised (a bug), once all are filed.
    """
    fatal: EndpointError | None = None
    unexpected: BaseException | None = None
    for task in done:
        if task.cancelled():
            continue
        exc = task.exception()
        if exc is None:
            outputs.append(task.result())
        elif isinstance(exc, RecordFailed):
            failed[int(task.get_name())] = exc.reason
        elif isinstance(exc, EndpointError):
            fatal = fatal or exc
        else:
            unexpected = unexpected or exc
    if unexpected is not None:
        raise unexpected
    return fatal


def _output(
    item: TeachItem,
    calls: list[CallResult],
    *,
    label: str | None = None,
    probabilities: tuple[float, ...] | None = None,
    source: str | None = None,
    mass: float | None = None,
    text: str | None = None,
    logprobs: list[dict[str, object]] | None = None,
    valid: bool = True,
    flag: str = "outside_label_set",
) -> TeacherOutput:
    """One output from the calls that made it: their tokens, latency and attempts add up."""
    return TeacherOutput(
        record_id=item.record_id,
        label=label,
        probabilities=probabilities,
        soft_label_source=source,
        label_mass=mass if mass is not None else (1.0 if probabilities else None),
        text=text,
        token_logprobs=logprobs,
        latency_ms=sum(c.latency_ms for c in calls),
        input_tokens=sum(c.reply.input_tokens for c in calls),
        output_tokens=sum(c.reply.output_tokens for c in calls),
        attempts=sum(c.attempts for c in calls),
        valid=valid,
        flag=None if valid else flag,
        usage_ignored=any(c.reply.usage_ignored for c in calls),
    )


def _merge_retry(first: TeacherOutput, second: TeacherOutput) -> TeacherOutput:
    """The strict retry's output, carrying the first try's cost, latency and attempts."""
    return replace(
        second,
        latency_ms=first.latency_ms + second.latency_ms,
        input_tokens=first.input_tokens + second.input_tokens,
        output_tokens=first.output_tokens + second.output_tokens,
        attempts=first.attempts + second.attempts,
        flag="strict_retry" if second.valid else second.flag,
        usage_ignored=first.usage_ignored or second.usage_ignored,
    )


def connect_endpoint(
    config: TeachConfig,
    base_url: str,
    *,
    task: str,
    labels: tuple[str, ...],
    template: PromptTemplate,
) -> OpenAICompatibleTeacher:
    """The endpoint teacher, once its key is found and checked and its pre-flight passed.

    Raises:
        TeacherError: the key cannot go in a header, or would go over plain http to another
            machine without ``--allow-insecure-http``, or the CA bundle is unreadable.
        EndpointError: as :func:`preflight`.
    """
    from core.teacher.credentials import api_key
    from core.teacher.endpoint_client import preflight

    key = api_key(config.api_key_env, urlsplit(base_url).hostname or "")
    if key is not None:
        check_api_key(key, config.api_key_env)
    insecure_http_host(base_url, has_key=key is not None, allow=config.allow_insecure_http)
    base_url = preflight(base_url, config, key)
    return OpenAICompatibleTeacher(
        base_url, config, task=task, labels=labels, template=template, api_key=key
    )
