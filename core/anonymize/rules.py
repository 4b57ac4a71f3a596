"""A project's own anonymization rules: extra patterns, deny-lists, an allow-list, context.

They live in a JSON file (``anonymize_rules.json`` in the project folder, owner-only) rather
than in settings or run configs, because deny-lists are themselves identifiers (staff names,
ward codes) and settings changes are audited with their values. Only the file's digest and
counts are recorded anywhere. The format::

    {
      "patterns":   [{"name": "ward", "entity_type": "WARD_ID", "regex": "W-\\\\d{4}",
                      "score": 0.85, "context": ["ward"]}],
      "deny_lists": {"PERSON": ["..."]},
      "allow_list": ["Mayo Clinic"],
      "context":    {"MEDICAL_RECORD_NUMBER": ["chart"]}
    }
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import AnonymizeError

RULES_FILE = "anonymize_rules.json"
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,40}$")


@dataclass(frozen=True, slots=True)
class PatternRule:
    name: str
    entity_type: str
    regex: str
    score: float = 0.85
    context: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnonymizeRules:
    """Validated rules; ``digest`` identifies the file's content (never its values)."""

    patterns: tuple[PatternRule, ...] = ()
    deny_lists: tuple[tuple[str, tuple[str, ...]], ...] = ()
    allow_list: tuple[str, ...] = ()
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    digest: str = "none"

    @property
    def custom_entities(self) -> tuple[str, ...]:
        """Entity types that only these rules define."""
        names = [p.entity_type for p in self.patterns] + [e for e, _ in self.deny_lists]
        return tuple(dict.fromkeys(names))

    def summary(self) -> dict[str, int | str]:
        """Counts for audit entries and results: how many of each, never which."""
        return {
            "patterns": len(self.patterns),
            "deny_list_entries": sum(len(values) for _, values in self.deny_lists),
            "allow_list_entries": len(self.allow_list),
            "digest": self.digest,
        }


def rules_file_for(project_path: Path, explicit: Path | None) -> Path | None:
    """The rules file a run uses: the explicit one, else the project's if it exists."""
    if explicit is not None:
        return explicit
    default = project_path / RULES_FILE
    return default if default.is_file() else None


def load_rules(path: Path | None) -> AnonymizeRules:
    """Read and validate a rules file; no file means no extra rules.

    Raises:
        AnonymizeError: the file cannot be read, is not JSON, or a rule is invalid. The
            message names the rule by position and name, never a value.
    """
    if path is None:
        return AnonymizeRules()
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise AnonymizeError(
            f"cannot read the rules file {path}", "check the path and its permissions"
        ) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnonymizeError(
            f"the rules file {path} is not valid UTF-8 JSON", "fix it with a JSON editor"
        ) from exc
    if not isinstance(data, dict):
        raise AnonymizeError(f"the rules file {path} must hold a JSON object")
    return AnonymizeRules(
        patterns=tuple(_pattern(i, item) for i, item in enumerate(data.get("patterns") or [])),
        deny_lists=_word_lists(data.get("deny_lists"), "deny_lists"),
        allow_list=_strings(data.get("allow_list"), "allow_list"),
        context=_word_lists(data.get("context"), "context"),
        digest=hashlib.sha256(raw).hexdigest()[:16],
    )


def _pattern(index: int, item: Any) -> PatternRule:
    where = f"patterns[{index}]"
    if not isinstance(item, dict):
        raise AnonymizeError(f"{where} in the rules file must be an object")
    name = str(item.get("name") or f"pattern_{index}")
    entity = str(item.get("entity_type", ""))
    if not _ENTITY_NAME.match(entity):
        raise AnonymizeError(f"{where} ({name}) needs an entity_type in capitals, e.g. WARD_ID")
    regex = item.get("regex")
    if not isinstance(regex, str) or not regex:
        raise AnonymizeError(f"{where} ({name}) needs a regex")
    _check_regex(regex, f"{where} ({name})")
    try:
        score = float(item.get("score", 0.85))
    except (TypeError, ValueError):
        score = -1.0
    if not 0.0 < score <= 1.0:
        raise AnonymizeError(f"{where} ({name}) needs a score between 0 and 1")
    context = _strings(item.get("context"), f"{where}.context")
    return PatternRule(name, entity, regex, score, context)


def _check_regex(regex: str, where: str) -> None:
    import regex as regex_module

    try:
        regex_module.compile(regex)
    except regex_module.error as exc:
        raise AnonymizeError(
            f"{where}: the regex does not compile ({exc.msg})",
            "check it with a regex tester; Python `regex` syntax",
        ) from exc


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AnonymizeError(f"{where} in the rules file must be a list of strings")
    return tuple(v for v in value if v.strip())


def _word_lists(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise AnonymizeError(f"{where} in the rules file must map entity types to lists")
    lists = []
    for entity, words in sorted(value.items()):
        if not _ENTITY_NAME.match(str(entity)):
            raise AnonymizeError(f"{where}: entity types are written in capitals, e.g. PERSON")
        lists.append((str(entity), _strings(words, f"{where}.{entity}")))
    return tuple(lists)
