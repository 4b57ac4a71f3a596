"""Every kind of teacher, described once: the one vocabulary of teacher kinds.

A *spec* is what ``--teacher`` (and the Teacher page's choice) names: ``labels``,
``hf:PATH`` or ``openai:BASE_URL``. It resolves to a *source*, the kind of teacher that
answers: the human labels, a local classifier, a local causal LM or an endpoint.
``TeachResult.teacher_kind`` is a source's :attr:`TeacherSource.kind`; the teach stage, the
``teach`` command, the Teacher page and the evaluation read this registry instead of
parsing specs or teacher ids.

A new teacher source is an entry in :data:`SOURCES` (and in :data:`SPECS` for a new
prefix), its ``Teacher`` class in this package, and its settings on the Teacher page.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.errors import TeacherError
from core.teacher.transport import redact_url, refuse_credentials

if TYPE_CHECKING:
    from core.project import Project
    from core.teacher.base import Teacher
    from core.teacher.config import TeachConfig
    from core.teacher.prompts import PromptTemplate

TASKS = frozenset({"classification", "generation"})


@dataclass(frozen=True, slots=True)
class TeacherSpec:
    """One form of ``--teacher``.

    Attributes:
        prefix: what the spec starts with (``hf``); the Teacher page's choice is keyed by it.
        usage: the spec as help texts show it (``hf:PATH``).
        summary: what it names, for ``--help``.
        parse: the text after ``prefix:`` (None: the spec had no colon) to the location
            (a path or a URL; ``""`` for none), or None when it is not of this form.
        resolver: ``"module:function"`` turning a location into ``(kind, location)`` when
            the spec names several sources (a model folder holds a classifier or an LLM).
    """

    prefix: str
    usage: str
    summary: str
    parse: Callable[[str | None], str | None]
    resolver: str = ""

    def spec(self, location: str = "") -> str:
        """The ``--teacher`` text for ``location``."""
        return f"{self.prefix}:{location}" if location else self.prefix

    @property
    def prompted(self) -> bool:
        """Whether a source of this spec may read a prompt (so the page offers the editor)."""
        return any(s.needs_prompt for s in SOURCES if s.spec == self.prefix)


@dataclass(frozen=True, slots=True)
class TeacherSource:
    """One kind of teacher.

    Attributes:
        kind: its name, stored as ``TeachResult.teacher_kind`` and ``Teacher.kind``.
        spec: the prefix of the spec that names it.
        description: what it is, for people (``a local sequence classifier``).
        builder: ``"module:function"`` with the signature of :meth:`build`.
        tasks: the project tasks it can teach.
        needs_text: it reads the anonymized text (the human labels do not).
        needs_prompt: it is prompted (an LLM), so an edited prompt applies.
        quantizable: a local model the evaluation can quantize as a "quantize only" baseline.
    """

    kind: str
    spec: str
    description: str
    builder: str
    tasks: frozenset[str] = TASKS
    needs_text: bool = True
    needs_prompt: bool = False
    quantizable: bool = False

    def build(
        self,
        config: TeachConfig,
        location: str,
        *,
        task: str,
        labels: tuple[str, ...],
        template: PromptTemplate | None,
    ) -> Teacher:
        """The teacher object (its model loaded, its endpoint checked).

        Raises:
            TeacherError: the model cannot be loaded or the endpoint cannot be used.
        """
        module_name, name = self.builder.split(":")
        builder: Callable[..., Teacher] = getattr(importlib.import_module(module_name), name)
        return builder(config, location, task=task, labels=labels, template=template)


def _parse_labels(rest: str | None) -> str | None:
    return "" if rest is None else None


def _parse_folder(rest: str | None) -> str | None:
    return rest or None


def _parse_url(rest: str | None) -> str | None:
    """An http(s) base URL without credentials (refused before anything is stored; no
    message quotes them).

    Raises:
        TeacherError: the URL holds credentials or is not an http(s) base URL.
    """
    if not rest:
        return None
    refuse_credentials(rest)
    try:
        parts = urlsplit(rest)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        usable = usable and (parts.port is None or parts.port > 0)
    except ValueError:  # a bad IPv6 literal or port
        usable = False
    if not usable:
        raise TeacherError(
            f"{redact_url(rest)} is not an http(s) base URL",
            "for example --teacher openai:http://gpu-box:8000/v1",
        )
    return rest.rstrip("/")


LABELS_SPEC = TeacherSpec(
    "labels", "labels", "the human labels as one-hot soft labels", _parse_labels
)
MODEL_SPEC = TeacherSpec(
    "hf", "hf:PATH", "a local model folder or .gguf file, never a hub id", _parse_folder,
    resolver="core.teacher.models:resolve_local_model",
)  # fmt: skip
ENDPOINT_SPEC = TeacherSpec(
    "openai", "openai:BASE_URL",
    "an OpenAI-compatible endpoint, e.g. https://gpu-box:8000/v1; never with a password or "
    "key in it: see --api-key-env", _parse_url,
)  # fmt: skip
SPECS: tuple[TeacherSpec, ...] = (MODEL_SPEC, ENDPOINT_SPEC, LABELS_SPEC)

SOURCES: tuple[TeacherSource, ...] = (
    TeacherSource(
        "labels", "labels", "the human labels", "core.teacher.labels_teacher:build",
        tasks=frozenset({"classification"}), needs_text=False,
    ),
    TeacherSource(
        "hf-classifier", "hf", "a local sequence classifier", "core.teacher.local_hf:build",
        tasks=frozenset({"classification"}), quantizable=True,
    ),
    TeacherSource(
        "hf-causal", "hf", "a local causal LM prompted for its answer",
        "core.teacher.local_causal:build", needs_prompt=True,
    ),
    TeacherSource(
        "endpoint", "openai", "a remote OpenAI-compatible endpoint",
        "core.teacher.endpoint:connect_endpoint", needs_prompt=True,
    ),
)  # fmt: skip


def spec_hint() -> str:
    """How to name a teacher, for error hints."""
    forms = [spec.usage for spec in SPECS]
    return (
        f"use --teacher {', '.join(forms[:-1])} or {forms[-1]} "
        f"({MODEL_SPEC.usage}: {MODEL_SPEC.summary})"
    )


def parse_spec(spec: str) -> tuple[str, str]:
    """``hf:PATH`` / ``openai:URL`` / ``labels`` → (prefix, path or URL).

    Raises:
        TeacherError: any other text, a hub id included, or a URL holding credentials.
    """
    prefix, colon, rest = spec.strip().partition(":")
    for form in SPECS:
        if form.prefix == prefix:
            location = form.parse(rest if colon else None)
            if location is not None:
                return prefix, location
    # Only the prefix is quoted: the rest may be a URL with a password in it.
    raise TeacherError(f"unknown teacher {prefix[:40]!r}", spec_hint())


def spec_form(prefix: str) -> TeacherSpec:
    """The spec with this prefix (one of :data:`SPECS`)."""
    return next(form for form in SPECS if form.prefix == prefix)


def source_of(kind: str) -> TeacherSource | None:
    """The source of this kind, or None for a kind no release of Stillroom had."""
    return next((source for source in SOURCES if source.kind == kind), None)


def resolve(spec: str) -> tuple[TeacherSource, str]:
    """The source a spec names and its location (a model folder is looked at to tell a
    classifier from an LLM, and a ``.gguf`` file is converted to a folder).

    Raises:
        TeacherError: the spec is malformed, or its model cannot be found or used.
    """
    prefix, location = parse_spec(spec)
    form = spec_form(prefix)
    kinds = [source for source in SOURCES if source.spec == prefix]
    if form.resolver:
        module_name, name = form.resolver.split(":")
        resolver: Callable[[str], tuple[str, str]] = getattr(
            importlib.import_module(module_name), name
        )
        kind, location = resolver(location)
        kinds = [source for source in kinds if source.kind == kind]
    return kinds[0], location


def teacher_kind_of(project: Project, teacher_id: str) -> str | None:
    """The kind of the teacher whose answers carry ``teacher_id`` (from its newest
    succeeded teach run), or None if no teach run of the project produced it."""
    from core.jobs.registry import TEACH
    from core.jobs.runs import latest_result

    found = latest_result(project, TEACH, where=lambda r: r.teacher_id == teacher_id)
    return None if found is None else found.teacher_kind
