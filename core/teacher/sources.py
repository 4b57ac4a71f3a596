"""Every kind of teacher, described once: the one vocabulary of teacher kinds.

A *spec* is what ``--teacher`` and the Teacher page's choice name (``labels``, ``hf:PATH``,
``openai:BASE_URL``); it resolves to a *source*, the kind of teacher that answers.
``TeachResult.teacher_kind`` is a source's ``kind``. A new teacher source is an entry in
:data:`SOURCES` (and :data:`SPECS` for a new prefix), its ``Teacher`` class in this package
and its settings on the Teacher page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.errors import TeacherError
from core.teacher.transport import redact_url, refuse_credentials

if TYPE_CHECKING:
    from core.project import Project
    from core.teacher.base import Teacher
    from core.teacher.config import TeachConfig as Config
    from core.teacher.prompts import PromptTemplate as Template

TASKS = frozenset({"classification", "generation"})


@dataclass(frozen=True, slots=True)
class TeacherSpec:
    """One form of ``--teacher``.

    Attributes:
        prefix: what the spec starts with (``hf``); the Teacher page's choices are keyed by it.
        usage: the spec as help texts show it (``hf:PATH``).
        summary: what it names, for ``--help``.
        parse: the text after ``prefix:`` (None: there was no colon) to a location (a path,
            a URL, ``""``), or None when the spec is not of this form.
        resolve: a location to ``(kind, location)`` where several sources share the spec.
    """

    prefix: str
    usage: str
    summary: str
    parse: Callable[[str | None], str | None]
    resolve: Callable[[str], tuple[str, str]] | None = None

    def spec(self, location: str = "") -> str:
        """The ``--teacher`` text for ``location``."""
        return f"{self.prefix}:{location}" if location else self.prefix

    @property
    def prompted(self) -> bool:
        """Whether a source of this spec may read a prompt (the page offers the editor)."""
        return any(s.needs_prompt for s in SOURCES if s.spec == self.prefix)


@dataclass(frozen=True, slots=True)
class TeacherSource:
    """One kind of teacher.

    Attributes:
        kind: its name, stored as ``TeachResult.teacher_kind``.
        spec: the prefix of the spec that names it.
        description: what it is, for people (``a local sequence classifier``).
        build: ``(config, location, task, labels, template) -> Teacher``; it loads the model
            or checks the endpoint, raising TeacherError when it cannot.
        tasks: the project tasks it can teach.
        needs_text: it reads the anonymized text (the human labels do not).
        needs_prompt: it is prompted (an LLM), so an edited prompt applies.
        quantizable: a local model the evaluation can quantize as a "quantize only" baseline.
        no_baseline: why there is no quantize-only baseline of it (for the report), when
            it is not quantizable.
    """

    kind: str
    spec: str
    description: str
    build: Callable[..., Teacher]
    tasks: frozenset[str] = TASKS
    needs_text: bool = True
    needs_prompt: bool = False
    quantizable: bool = False
    no_baseline: str = ""


def _parse_url(rest: str | None) -> str | None:
    """An http(s) base URL; credentials in it are refused before anything is stored."""
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
        raise TeacherError(f"{redact_url(rest)} is not an http(s) base URL",
                           "for example --teacher openai:http://gpu-box:8000/v1")  # fmt: skip
    return rest.rstrip("/")


def _local_model(location: str) -> tuple[str, str]:
    from core.teacher.models import model_kind, resolve_model_folder

    folder = resolve_model_folder(location)  # a .gguf file becomes a cached folder
    return f"hf-{model_kind(folder)}", str(folder)


def _labels(
    config: Config, location: str, task: str, labels: tuple[str, ...], template: Template | None
) -> Teacher:
    from core.teacher.labels_teacher import ExistingLabelsTeacher

    return ExistingLabelsTeacher(labels, task=task)


def _classifier(
    config: Config, location: str, task: str, labels: tuple[str, ...], template: Template | None
) -> Teacher:
    from core.teacher.local_hf import LocalClassifierTeacher

    temperature = 1.0 if config.temperature is None else config.temperature
    return LocalClassifierTeacher(Path(location), labels, batch_size=config.batch_size,
                                  temperature=temperature)  # fmt: skip


def _causal(
    config: Config, location: str, task: str, labels: tuple[str, ...], template: Template | None
) -> Teacher:
    from core.teacher.local_causal import LocalCausalTeacher

    assert template is not None  # a prompted source's template is always loaded
    return LocalCausalTeacher(
        Path(location), task=task, labels=labels, template=template,
        label_tokens=config.label_tokens, temperature=config.temperature,
        batch_size=config.batch_size, max_new_tokens=config.max_new_tokens,
        top_logprobs=config.top_logprobs,
    )  # fmt: skip


def _endpoint(
    config: Config, location: str, task: str, labels: tuple[str, ...], template: Template | None
) -> Teacher:
    from core.teacher.endpoint import connect_endpoint

    assert template is not None  # a prompted source's template is always loaded
    return connect_endpoint(config, location, task=task, labels=labels, template=template)


LABELS_SPEC = TeacherSpec("labels", "labels", "the human labels as one-hot soft labels "
                          "(generation: the reference texts of --label)",
                          lambda rest: "" if rest is None else None)  # fmt: skip
MODEL_SPEC = TeacherSpec("hf", "hf:PATH", "a local model folder or .gguf file, never a hub id",
                         lambda rest: rest or None, _local_model)  # fmt: skip
ENDPOINT_SPEC = TeacherSpec(
    "openai", "openai:BASE_URL", "an OpenAI-compatible endpoint, e.g. https://gpu-box:8000/v1; "
    "never with a password or key in it: see --api-key-env", _parse_url,
)  # fmt: skip
SPECS: tuple[TeacherSpec, ...] = (MODEL_SPEC, ENDPOINT_SPEC, LABELS_SPEC)
_CLASSIFICATION = frozenset({"classification"})
SOURCES: tuple[TeacherSource, ...] = (
    TeacherSource("labels", "labels", "the human labels", _labels, needs_text=False,
                  no_baseline="the teacher is the human labels: no model to quantize"),
    TeacherSource("hf-classifier", "hf", "a local sequence classifier", _classifier,
                  _CLASSIFICATION, quantizable=True),
    TeacherSource("hf-causal", "hf", "a local causal LM prompted for its answer", _causal,
                  needs_prompt=True,
                  no_baseline="the teacher is a causal LM prompted for its label; only a "
                  "local sequence classifier is quantized here"),
    TeacherSource("endpoint", "openai", "a remote OpenAI-compatible endpoint", _endpoint,
                  needs_prompt=True,
                  no_baseline="the teacher is a remote endpoint: its weights are not on "
                  "this machine"),
)  # fmt: skip


def parse_spec(spec: str) -> tuple[str, str]:
    """``hf:PATH`` / ``openai:URL`` / ``labels`` → (prefix, path or URL).

    Raises:
        TeacherError: any other text, a hub id included, or a URL holding credentials.
    """
    prefix, colon, rest = spec.strip().partition(":")
    for form in SPECS:
        location = form.parse(rest if colon else None) if form.prefix == prefix else None
        if location is not None:
            return prefix, location
    usages = [form.usage for form in SPECS]
    # Only the prefix is quoted: the rest may be a URL with a password in it.
    raise TeacherError(
        f"unknown teacher {prefix[:40]!r}",
        f"use --teacher {', '.join(usages[:-1])} or {usages[-1]} "
        f"({MODEL_SPEC.usage}: {MODEL_SPEC.summary})",
    )


def spec_form(prefix: str) -> TeacherSpec:
    """The spec with this prefix (one of :data:`SPECS`)."""
    return next(form for form in SPECS if form.prefix == prefix)


def source_of(kind: str) -> TeacherSource | None:
    """The source of this kind, or None for a kind no release of Stillroom had."""
    return next((source for source in SOURCES if source.kind == kind), None)


def resolve(spec: str) -> tuple[TeacherSource, str]:
    """The source a spec names and its location (a model folder is read to tell a classifier
    from an LLM; a ``.gguf`` file is converted to a folder).

    Raises:
        TeacherError: the spec is malformed, or its model cannot be found or used.
    """
    prefix, location = parse_spec(spec)
    form, kind = spec_form(prefix), ""
    if form.resolve is not None:
        kind, location = form.resolve(location)
    found = [s for s in SOURCES if s.spec == prefix and kind in ("", s.kind)]
    return found[0], location


def teacher_kind_of(project: Project, teacher_id: str) -> str | None:
    """The kind of the teacher whose answers carry ``teacher_id`` (from its newest
    succeeded teach run), or None if no teach run of the project produced it."""
    from core.jobs.registry import TEACH
    from core.jobs.runs import latest_result

    found = latest_result(project, TEACH, where=lambda r: r.teacher_id == teacher_id)
    return None if found is None else found.teacher_kind
