"""The background worker process of ``stillroom serve``: anonymize, then ask the teacher.

It gets ``(request id, item, text, student label, shadow?)`` from a bounded queue and
answers dicts on another. Every text is anonymized first, with the project's settings as the
bundle carries them (entity list, operators, custom recognizers); the vault never leaves the
project, so ``hash`` and ``pseudonym`` become ``replace`` here. Only the anonymized text
reaches the teacher (or the log, with ``--keep-inputs anonymized``); nothing here prints,
logs or raises a text.

The teacher is one of :mod:`core.teacher.sources` (the endpoint client with its deadlines,
reply caps, retries and breaker; or a local model), built with the shadow's short deadlines.
If it cannot be reached it is tried again every :data:`RETRY_S` seconds, and what was sampled
meanwhile is answered ``failed``: an outage never reaches the server's callers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import tempfile
import time
from pathlib import Path
from typing import Any

from core.serve.shadow import WorkerSettings

RETRY_S = 10.0
_BATCH = 16


class _Anonymizer:
    """The project's detector and operators (no vault)."""

    def __init__(self, settings: WorkerSettings) -> None:
        from core.anonymize.config import AnonymizeConfig
        from core.anonymize.detect import Detector
        from core.anonymize.engine import EngineSpec, check_model_installed
        from core.anonymize.operators import Anonymizer
        from core.anonymize.rules import AnonymizeRules, load_rules
        from core.configs import from_json

        config = from_json(AnonymizeConfig, settings.anonymize or {})
        keyed = {"hash", "pseudonym"}  # need the project's vault keys, which stay home
        config = dataclasses.replace(
            config,
            operator="replace" if config.operator in keyed else config.operator,
            operators=tuple((e, "replace" if o in keyed else o) for e, o in config.operators),
            rules_path=None,
        )
        rules = AnonymizeRules()
        if settings.rules is not None:
            with tempfile.TemporaryDirectory() as scratch:
                path = Path(scratch) / "rules.json"
                path.write_bytes(settings.rules)
                rules = load_rules(path)
        model = None if config.pattern_only else config.spacy_model
        if model is not None:
            check_model_installed(model)
        spec = EngineSpec(config.resolved_entities(), model, rules)
        self._detector = Detector(spec, config.score_threshold, config.review_threshold)
        self._operators = Anonymizer(config, None)

    def __call__(self, texts: list[str]) -> list[str]:
        detections = self._detector.detect_batch(texts)
        return [
            self._operators.apply(text, d.findings).text
            for text, d in zip(texts, detections, strict=True)
        ]


class _Shadow:
    """The teacher, (re)built on demand."""

    def __init__(self, settings: WorkerSettings) -> None:
        self._settings = settings
        self._teacher: Any = None
        self._next_try = 0.0

    def teacher(self) -> Any:
        if self._teacher is None and time.monotonic() >= self._next_try:
            try:
                self._teacher = _build_teacher(self._settings)
            except Exception:  # noqa: BLE001 — an absent teacher fails its samples, not us
                self._next_try = time.monotonic() + RETRY_S
        return self._teacher

    def ask(self, texts: list[str]) -> list[tuple[str | None, list[float] | None, float]]:
        """(label, probabilities, latency ms) per text; (None, None, 0) where it failed."""
        from core.teacher.base import TeachItem

        failed: list[tuple[str | None, list[float] | None, float]] = [(None, None, 0.0)] * len(
            texts
        )
        teacher = self.teacher()
        if teacher is None:
            return failed
        items = [TeachItem(i, "serve", None, text) for i, text in enumerate(texts)]
        answers: dict[int, Any] = {}
        try:
            for batch in teacher.outputs(items):
                answers.update({o.record_id: o for o in batch.outputs if o.valid})
        except Exception:  # noqa: BLE001 — e.g. the breaker gave up: rebuild later
            with contextlib.suppress(Exception):
                teacher.close()
            self._teacher, self._next_try = None, time.monotonic() + RETRY_S
        return [
            (o.label, None if o.probabilities is None else list(o.probabilities), o.latency_ms)
            if (o := answers.get(i)) is not None
            else failed[i]
            for i in range(len(texts))
        ]


def _build_teacher(settings: WorkerSettings) -> Any:
    from core import netguard
    from core.configs import from_json
    from core.teacher.config import TeachConfig, endpoint_host
    from core.teacher.prompts import PromptTemplate, default_template, validate
    from core.teacher.sources import resolve

    assert settings.teacher is not None
    config = from_json(TeachConfig, settings.teach or {"teacher": settings.teacher})
    host = endpoint_host(config)
    if host is not None:
        netguard.allow_host(host)  # the one host this process may reach
    source, location = resolve(config.teacher)
    template = None
    if source.needs_prompt:
        template = (
            default_template(settings.task)
            if settings.prompt is None
            else PromptTemplate(settings.task, settings.prompt)
        )
        validate(template)
    return source.build(config, location, settings.task, settings.labels, template)


def worker_main(settings: WorkerSettings, requests: Any, answers: Any) -> None:
    """The process's loop; ends on a ``None`` request (after answering what it holds)."""
    import os
    import sys

    from core import netguard

    netguard.install()
    if hasattr(os, "nice"):
        os.nice(10)  # spare cycles only: the server's callers come first on a shared machine
    if settings.teacher is None or not settings.teacher.startswith("hf:"):
        for name in ("torch", "transformers"):  # as the anonymize workers: never needed here
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    anonymize = _Anonymizer(settings)
    shadow = _Shadow(settings) if settings.teacher is not None else None
    stop = False
    while not stop:
        batch, stop = _take(requests)
        if batch:
            _answer(batch, anonymize, shadow, settings, answers)
    answers.put(None)


def _take(requests: Any) -> tuple[list[tuple[Any, ...]], bool]:
    first = requests.get()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < _BATCH:
        try:
            item = requests.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False


def _answer(
    batch: list[tuple[Any, ...]],
    anonymize: _Anonymizer,
    shadow: _Shadow | None,
    settings: WorkerSettings,
    answers: Any,
) -> None:
    if not settings.keep_anonymized and (shadow is None or shadow.teacher() is None):
        # Nothing to keep and no teacher to ask (down: retried later): no text is anonymized
        # for nothing, the samples fail at once.
        for request_id, item, *_ in batch:
            answers.put({"request_id": request_id, "item": item, "status": "failed",
                         "label": None, "probabilities": None, "latency_ms": 0.0,
                         "agrees": None})  # fmt: skip
        return
    anonymized = anonymize([text for _, _, text, _, _ in batch])
    sampled = [i for i, entry in enumerate(batch) if entry[4]]
    replies = shadow.ask([anonymized[i] for i in sampled]) if shadow and sampled else []
    by_index = dict(zip(sampled, replies, strict=True))
    for index, (request_id, item, _, student_label, _) in enumerate(batch):
        answer: dict[str, Any] = {"request_id": request_id, "item": item}
        if settings.keep_anonymized:
            answer["anonymized"] = anonymized[index]
        if index in by_index:
            label, probabilities, latency = by_index[index]
            answer.update(
                status="failed" if label is None else "answered",
                label=label,
                probabilities=probabilities,
                latency_ms=latency,
                agrees=None if label is None else label == student_label,
            )
        answers.put(answer)
