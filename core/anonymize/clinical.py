"""The clinical allow-list: vocabulary a model mistakes for identifiers, never replaced.

A general-purpose NER model reads "Holter" and "Neuro" as people, "GP" and "NSAIDs" as
places, "Ward 4B" as a person and "5 days" as a date (issue 17); replacing them strips a
clinical note of the findings a summary needs. The words and patterns ship as data
(``resources/anonymize/clinical_allow_list.txt``) so a hospital can read and extend them; this
module only loads and applies them. Only generic findings (names, places, organisations,
dates) are ever dropped: pattern-specific identifiers such as phone numbers and MRNs are not
looked at, and a finding with any word outside the list is kept whole.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.errors import UserError

_PARTS = ("resources", "anonymize", "clinical_allow_list.txt")
_WORD = re.compile(r"[^\s,;:()]+")
# Edges that are not part of a term: "Ward 4B." and "(Holter)" are the listed terms.
_EDGES = " \t\n.,;:()[]'\""
_NEXT = re.compile(r"[ \t]+\S+")
_PREVIOUS = re.compile(r"\S+[ \t]+\S+[ \t]+$")  # the two words before a finding
_FIX = "reinstall Stillroom, or restore the file from its release"


@dataclass(frozen=True, slots=True)
class ClinicalAllowList:
    """Listed words and phrases (case-folded) and full-match patterns."""

    words: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def phrase(self, span: str) -> bool:
        """Whether ``span`` is one listed phrase, word for word (no patterns, no mix of
        listed words): what the words before a finding may add ("next of kin")."""
        folded = " ".join(w.strip(_EDGES) for w in span.casefold().split())
        return " " in folded and folded in self.words

    def covers(self, span: str) -> bool:
        """Whether ``span`` is clinical vocabulary only: a listed phrase, a pattern's full
        match, or listed words and nothing else."""
        span = span.strip(_EDGES)
        if not span:
            return False
        folded = " ".join(span.casefold().split())
        if folded in self.words or any(p.fullmatch(folded) for p in self.patterns):
            return True
        words = [w.strip(_EDGES) for w in _WORD.findall(folded)]
        return all(w in self.words for w in words if w)


def allow_list_path() -> Path:
    """The shipped file, in a source checkout or in the PyInstaller build."""
    roots = [Path(__file__).resolve().parents[2]]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        roots.insert(0, Path(frozen))
    for root in roots:
        candidate = root.joinpath(*_PARTS)
        if candidate.is_file():
            return candidate
    return roots[-1].joinpath(*_PARTS)


def parse_allow_list(text: str) -> ClinicalAllowList:
    """Parse the file's lines: a term each, ``re:`` for a pattern, ``#`` for a comment.

    Raises:
        UserError: a pattern is not a valid regular expression.
    """
    words: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("re:"):
            words.add(" ".join(line.casefold().split()))
            continue
        try:
            patterns.append(re.compile(line[3:].strip(), re.IGNORECASE))
        except re.error as exc:
            raise UserError(
                f"clinical allow-list line {number}: bad pattern ({exc})", _FIX
            ) from exc
    return ClinicalAllowList(frozenset(words), tuple(patterns))


@cache
def clinical_allow_list() -> ClinicalAllowList:
    """The shipped allow-list, read once per process.

    Raises:
        UserError: the file is missing (a broken install) or has a bad pattern.
    """
    path = allow_list_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"the clinical allow-list is missing: {path}", _FIX) from exc
    return parse_allow_list(text)


def is_clinical(text: str, start: int, end: int) -> bool:
    """Whether the finding ``text[start:end]`` is clinical vocabulary that must stay.

    The whole word a finding was cut from counts ("ray" of "X-ray"), and so do the next
    word ("Ward" with its code "4B") and, as a listed phrase only, the two words before it
    ("kin" of "next of kin").
    After a title ("Dr Holter") it is a name and stays a finding.
    """
    from core.anonymize.gazetteers import TITLES

    allowed = clinical_allow_list()
    left, right = _whole_word(text, start, end)
    before = text[:left].split()[-1:]
    if before and before[0].strip(_EDGES).casefold() in TITLES:
        return False
    following = _NEXT.match(text, right)
    leading = _PREVIOUS.search(text[:left])
    return (
        allowed.covers(text[start:end])
        or allowed.covers(text[left:right])
        or (following is not None and allowed.covers(text[left : following.end()]))
        or (leading is not None and allowed.phrase(text[leading.start() : right]))
    )


def in_listed_compound(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is part of a longer listed word ("ray" of "X-ray")."""
    left, right = _whole_word(text, start, end)
    word = text[left:right].strip(_EDGES)
    return word.casefold() != text[start:end].casefold() and clinical_allow_list().covers(word)


def _whole_word(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the whitespace-delimited word ``text[start:end]`` was cut from."""
    left, right = start, end
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    while right < len(text) and not text[right].isspace():
        right += 1
    return left, right
