"""Prompt templates for LLM teachers: per task, editable, versioned by content.

A template's version is a hash of its task and text, so editing a template gives new
outputs under a new version instead of silently mixing two prompts in one training set. The
text of every version used is kept in the project's settings (audited when added).

Generation prompts ask for a summary unless the project passes its own template (``--prompt
FILE``, any instruction around ``{text}``): a bare ``{text}`` gives an LLM no task.

Classification prompts show the label set as *answers*: either the label names themselves
(when each is one token for the model) or letters ``A, B, C…`` (always one token), so the
teacher's next-token distribution over the answers is the soft label.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.errors import TeacherError

if TYPE_CHECKING:
    from core.project import Project

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SETTINGS_KEY = "teacher.prompts"
FIELDS = frozenset({"text", "choices", "labels", "answer_kind", "answers"})
AnswerKind = Literal["letters", "names"]

DEFAULT_TEMPLATES = {
    "classification": (
        "Classify the text into exactly one of these categories:\n"
        "{choices}\n\n"
        "Text: {text}\n\n"
        "Reply with the {answer_kind} of the category only.\n"
        "Answer:"
    ),
    # Without an instruction a model echoes the text or loops (issue 17): the built-in one
    # asks for the product's guiding task, a summary; --prompt FILE sets any other task.
    "generation": (
        "Summarise the text below in a few sentences. Keep every fact that matters "
        "(findings, decisions, numbers, doses, follow-up) and add nothing that is not in "
        "the text.\n\n"
        "Text:\n{text}\n\n"
        "Summary:"
    ),
}

_STRICT_SUFFIX = (
    "\n\nReply with exactly one of {answers} and nothing else: no explanation, no punctuation."
)
_ANSWER_PREFIX = re.compile(r"^\W*(the\s+)?(answer|category|label)\s*(is|:)?\s*", re.I)
_LETTER_CHOICE = re.compile(r"^([A-Za-z])\s*[).:\]]")


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    task: str
    text: str

    @property
    def version(self) -> str:
        """``p`` + the first 12 hex digits of SHA-256 over task and text."""
        digest = hashlib.sha256(f"{self.task}\0{self.text}".encode()).hexdigest()
        return f"p{digest[:12]}"


@dataclass(frozen=True, slots=True)
class AnswerMapping:
    """How each label is answered: by its name or by a letter."""

    labels: tuple[str, ...]
    kind: AnswerKind

    @property
    def answers(self) -> tuple[str, ...]:
        return tuple(LETTERS[: len(self.labels)]) if self.kind == "letters" else self.labels

    def choices(self) -> str:
        """The label set as the prompt lists it."""
        if self.kind == "letters":
            return "\n".join(
                f"{a}) {label}" for a, label in zip(self.answers, self.labels, strict=True)
            )
        # Inline, not as a bulleted list: small models otherwise answer with the bullet.
        return ", ".join(self.labels)

    def label_for(self, answer: str) -> str | None:
        """The label an exact answer (letter or name, any case) stands for."""
        key = answer.strip().casefold()
        for candidate, label in zip(self.answers, self.labels, strict=True):
            if key in (candidate.casefold(), label.casefold()):
                return label
        return None


def letters_mapping(labels: tuple[str, ...]) -> AnswerMapping:
    """The letter mapping for ``labels``.

    Raises:
        TeacherError: more labels than letters.
    """
    if len(labels) > len(LETTERS):
        raise TeacherError(
            f"{len(labels)} labels are too many to answer by letter (at most 26)",
            "use a classifier teacher (hf:PATH to a sequence-classification model) instead",
        )
    return AnswerMapping(labels, "letters")


def default_template(task: str) -> PromptTemplate:
    return PromptTemplate(task, DEFAULT_TEMPLATES[task])


def validate(template: PromptTemplate) -> None:
    """Check the template's fields.

    Raises:
        TeacherError: an unknown field, a missing ``{text}``, or no ``{choices}`` in a
            classification template.
    """
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template.text) if name}
    except ValueError as exc:
        raise TeacherError(
            f"the prompt template is not a valid format string ({exc})",
            "write literal braces as {{ and }}",
        ) from exc
    unknown = names - FIELDS
    if unknown:
        raise TeacherError(
            f"the prompt template uses unknown fields: {', '.join(sorted(unknown))}",
            f"use only {{{'}, {'.join(sorted(FIELDS))}}}",
        )
    if "text" not in names:
        raise TeacherError(
            "the prompt template has no {text} field",
            "add {text} where the record's anonymized text goes",
        )
    if template.task == "classification" and "choices" not in names:
        raise TeacherError(
            "a classification prompt must list the labels with {choices}",
            "add {choices} where the categories should appear",
        )


def render(
    template: PromptTemplate, text: str, mapping: AnswerMapping | None, *, strict: bool = False
) -> str:
    """The prompt for one record; ``strict`` adds the retry instruction for a bad answer."""
    if mapping is None:
        return template.text.format(text=text, choices="", labels="", answer_kind="", answers="")
    answers = ", ".join(mapping.answers)
    prompt = template.text.format(
        text=text,
        choices=mapping.choices(),
        labels=", ".join(mapping.labels),
        answer_kind="letter" if mapping.kind == "letters" else "name",
        answers=answers,
    )
    return prompt + _STRICT_SUFFIX.format(answers=answers) if strict else prompt


def parse_answer(text: str, mapping: AnswerMapping) -> str | None:
    """The label a free-text answer names, or None if it names none (or several ways).

    Accepts ``B``, ``b.``, ``B) clinical``, ``Answer: B``, ``"clinical"``; refuses prose
    such as ``A positive answer would be…``, which only starts with a letter.
    """
    lines = text.strip().splitlines()
    if not lines:
        return None
    first = _ANSWER_PREFIX.sub("", lines[0].strip(), count=1)
    exact = mapping.label_for(first.strip(" \t\"'`*.,;:!()[]"))
    if exact is not None:
        return exact
    choice = _LETTER_CHOICE.match(first)
    if mapping.kind == "letters" and choice:
        return mapping.label_for(choice.group(1))
    return None


def load_template(
    project: Project, task: str, prompt_file: Path | None, *, keep: bool = True
) -> PromptTemplate:
    """The template to use (a file's or the task default), kept in the project if ``keep``.

    Raises:
        TeacherError: the file cannot be read or the template is invalid.
    """
    if prompt_file is None:
        template = default_template(task)
    else:
        try:
            text = Path(prompt_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TeacherError(
                f"cannot read the prompt file {prompt_file} ({type(exc).__name__})",
                "pass a UTF-8 text file with --prompt",
            ) from exc
        template = PromptTemplate(task, text.rstrip("\n"))
    validate(template)
    if keep:
        remember(project, template)
    return template


def remember(project: Project, template: PromptTemplate) -> None:
    """Keep the template text under its version in the settings (once; audited)."""
    known = dict(project.setting(SETTINGS_KEY, {}) or {})
    if template.version not in known:
        known[template.version] = {"task": template.task, "text": template.text}
        project.set_setting(SETTINGS_KEY, known)


def stored_templates(project: Project) -> dict[str, PromptTemplate]:
    """Every template version this project has used, by version."""
    known = project.setting(SETTINGS_KEY, {}) or {}
    return {
        version: PromptTemplate(entry["task"], entry["text"]) for version, entry in known.items()
    }
