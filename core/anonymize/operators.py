"""Turning findings into anonymized text: replace, mask, hash, pseudonym; Safe Harbor rules.

Runs in the main process only, because the pseudonym vault must have one writer. The spans
it returns are offsets, entity types and operators: never the values they replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from core.anonymize.config import AnonymizeConfig
from core.anonymize.detect import Finding
from core.anonymize.surrogates import SurrogateMaker, name_words, normalise
from core.anonymize.vault import Vault

# Three-digit ZIP prefixes whose area had 20,000 people or fewer (HHS Safe Harbor guidance,
# 2000 census): these become 000.
RESTRICTED_ZIP3 = frozenset({
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
    "879", "884", "890", "893",
})  # fmt: skip
_YEAR = re.compile(r"(?<!\d)(1[89]\d{2}|20\d{2})(?!\d)")
_US_ZIP = re.compile(r"\d{5}(?:-\d{4})?")
_MAX_ATTEMPTS = 40


@dataclass(frozen=True, slots=True)
class Anonymized:
    text: str
    spans: list[dict[str, Any]]
    counts: Counter[str]


class Anonymizer:
    """Applies each entity's operator; keeps per-record placeholder numbers."""

    def __init__(self, config: AnonymizeConfig, vault: Vault | None) -> None:
        self._config = config
        self.vault = vault
        self._maker = (
            SurrogateMaker(config.locale, vault.keys.surrogate) if vault is not None else None
        )
        self._given: frozenset[str] = frozenset()
        if vault is not None:
            from core.anonymize.gazetteers import gazetteers

            self._given = gazetteers().first_names

    def apply(self, text: str, findings: tuple[Finding, ...]) -> Anonymized:
        """The anonymized text, its spans (output and source offsets) and counts."""
        pieces: list[str] = []
        spans: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        numbers: dict[tuple[str, str], int] = {}
        cursor = length = 0
        for finding in findings:
            before = text[cursor : finding.start]
            pieces.append(before)
            length += len(before)
            value = text[finding.start : finding.end]
            replacement, operator = self._replace(finding.entity, value, numbers)
            pieces.append(replacement)
            spans.append(
                {
                    "start": length,
                    "end": length + len(replacement),
                    "source_start": finding.start,
                    "source_end": finding.end,
                    "entity_type": finding.entity,
                    "operator": operator,
                    "score": round(finding.score, 2),
                }
            )
            length += len(replacement)
            counts[finding.entity] += 1
            cursor = finding.end
        pieces.append(text[cursor:])
        return Anonymized("".join(pieces), spans, counts)

    def _replace(
        self, entity: str, value: str, numbers: dict[tuple[str, str], int]
    ) -> tuple[str, str]:
        if self._config.safe_harbor:
            generalised = safe_harbor(entity, value)
            if generalised is not None:
                return generalised
        operator = self._config.operator_for(entity)
        if operator == "mask":
            return "".join(ch if ch.isspace() else "*" for ch in value), operator
        if operator == "hash":
            assert self.vault is not None
            digest = hmac.new(
                self.vault.keys.hashing,
                f"{entity}\x1f{normalise(entity, value)}".encode(),
                hashlib.sha256,
            ).hexdigest()[:12]
            return f"<{entity}_{digest}>", operator
        if operator == "pseudonym":
            return self._pseudonym(entity, value), operator
        key = (entity, normalise(entity, value))
        number = numbers.setdefault(key, 1 + sum(e == entity for e, _ in numbers))
        return f"<{entity}_{number}>", "replace"

    def _pseudonym(self, entity: str, value: str) -> str:
        if entity != "PERSON":
            return self._surrogate(entity, value, given=None)
        out, cursor = [], 0
        words = name_words(value)
        for index, (start, end) in enumerate(words):
            word = value[start:end]
            out.append(value[cursor:start])
            given = word.casefold() in self._given and (index < len(words) - 1 or len(words) == 1)
            out.append(
                self._initial(word)
                if len(word) == 1
                else self._surrogate("PERSON", word, given=given)
            )
            cursor = end
        out.append(value[cursor:])
        # Digits inside a name span (a merged address, a badge number) must not survive.
        return re.sub(
            r"\d+", lambda m: self._surrogate("OTHER_ID", m.group(0), given=None), "".join(out)
        )

    def _surrogate(self, entity: str, value: str, *, given: bool | None) -> str:
        assert self.vault is not None
        assert self._maker is not None
        normalised = normalise(entity, value)
        digest, known = self.vault.lookup(entity, normalised)
        if known is not None:
            return _adapt(value, known)
        for attempt in range(_MAX_ATTEMPTS):
            made = (
                self._maker.value(entity, value, attempt)
                if given is None
                else self._maker.name_part(value, given, attempt)
            )
            if self.vault.is_free(made) and normalise(entity, made) != normalised:
                break
        self.vault.add(entity, digest, made, value)
        return made

    def _initial(self, letter: str) -> str:
        assert self.vault is not None
        digest = hmac.new(
            self.vault.keys.surrogate, letter.casefold().encode(), hashlib.sha256
        ).digest()
        return chr(ord("A") + digest[0] % 26)


def safe_harbor(entity: str, value: str) -> tuple[str, str] | None:
    """The Safe Harbor generalisation of a value, or None where it does not apply.

    Dates keep their year only; ages up to 89 stay and older ones become ``90+``; US ZIP
    codes keep their first three digits (``000`` where that area is too small).
    """
    if entity == "DATE_TIME":
        year = _YEAR.search(value)
        return (year.group(1), "generalize") if year else None
    if entity == "AGE":
        digits = "".join(ch for ch in value if ch.isdigit())
        if not digits:
            return None
        return ("90+", "generalize") if int(digits) > 89 else (value, "keep")
    if entity == "ZIP_CODE" and _US_ZIP.fullmatch(value):
        prefix = value[:3]
        return ("000" if prefix in RESTRICTED_ZIP3 else prefix) + "XX", "generalize"
    return None


def _adapt(template: str, stored: str) -> str:
    from core.anonymize.surrogates import match_case

    return match_case(template, stored)
