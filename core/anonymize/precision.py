"""Findings that are not identifiers: the over-redaction filter (issue 20).

Replacing text that identifies nobody damages the task without protecting anyone
("EXTREMELY RUDE!" became "EXTREMELY <LOCATION_2>!", "this month" a date). The worst
sources, measured on labelled text by ``bench/anonymize_bench.py``:

- relative dates and durations ("this month", "a few months ago", "45 minutes"): a date
  identifies a person only with a day, a month or a year in it;
- shouted or capitalised English words that the model takes for a person or a place
  ("RUDE", "DON'T KNOW WHAT TO PRESS", "Users"): every word an English word that no name or
  place list knows.

A word that is also a known given name, family name or place is always kept as found, so
"JOHN" or "Denver" stays an identifier.
"""

from __future__ import annotations

import re
from typing import Any

from core.anonymize.gazetteers import Gazetteers, gazetteers

# A month or weekday as a whole word ("May", "Sept.", "Mon"), not inside "month" or "Monday's
# meeting was fine"; or any digit. "mon" used to match "this month".
_DATE_WORD = re.compile(
    r"\d|\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon(?:day)?|tues?(?:day)?"
    r"|wed(?:nesday)?|thu(?:r|rs)?(?:day)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)s?\b",
    re.IGNORECASE,
)
# A span of time, not a point in it: "45 minutes", "8+ years", "the first three months ago".
_DURATION = re.compile(
    r"(?:the\s+|a\s+|an\s+)?(?:(?:first|last|next|past|few|couple\s+of|several)\s+)*"
    r"(?:(?:\d+\+?|\w+)\s+)?(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
    r"(?:\s+(?:ago|later|long|old))?",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_WORDY = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP"})


class OverRedactionFilter:
    """Tells findings that identify nobody; one per detector process.

    Args:
        nlp: the spaCy pipeline (its lemmatizer's WordNet index is the English lexicon), or
            None in pattern-only mode, where only the date rule applies.
    """

    def __init__(self, nlp: Any | None) -> None:
        self._lists: Gazetteers | None = None
        # Adjectives, verbs and adverbs hold no place names (WordNet's nouns do: "chicago").
        self._describing = _lexicon(nlp, ("adj", "verb", "adv"))
        self._words = self._describing | _lexicon(nlp, ("noun",))

    def identifies(self, entity: str, value: str) -> bool:
        """False when a finding of ``entity`` over ``value`` is not an identifier."""
        if entity == "DATE_TIME":
            return bool(_DATE_WORD.search(value)) and not _DURATION.fullmatch(value.strip())
        if entity not in _WORDY or not self._words:
            return True
        words = _WORDS.findall(value)
        if not words:
            return True
        if self._lists is None:
            self._lists = gazetteers()
        if all(w.isupper() for w in words if len(w) > 1):
            return not self._shouting(words, self._lists)
        if entity == "PERSON" and len(words) == 1:
            return not self._common_noun(words[0], self._lists)
        return True

    def _shouting(self, words: list[str], lists: Gazetteers) -> bool:
        """Capitals that are plain English ("RUDE", "DON'T KNOW WHAT TO PRESS"), with no
        given or family name among the words that are not everyday words."""
        for word in words:
            folded = _fold(word)
            if folded in lists.common_words:
                continue
            if lists.is_name(folded) or not _known(folded, self._describing):
                return False
        return True

    def _common_noun(self, word: str, lists: Gazetteers) -> bool:
        """A single everyday word the model took for a person: an everyday word, a plural
        noun ("Users", "Kids") or a lower-case noun ("orchestra"). WordNet also lists famous
        people ("mahler"), so a capitalised singular noun is kept."""
        folded = _fold(word)
        if lists.is_name(folded) or folded in lists.places:
            return False
        if folded in lists.common_words:
            return True
        words = self._words
        plural = folded.endswith("s") and (folded[:-1] in words or folded[:-2] in words)
        return plural or (word.islower() and folded in words)


def _known(word: str, lexicon: frozenset[str]) -> bool:
    """``word`` or its stem ("lost", "broken", "cancelled", "delays") is in ``lexicon``."""
    return (
        word in lexicon
        or (word.endswith("s") and (word[:-1] in lexicon or word[:-2] in lexicon))
        or (word.endswith("ed") and (word[:-2] in lexicon or word[:-1] in lexicon))
    )


def _fold(word: str) -> str:
    """Case-folded, without a clitic ("DON'T" -> "don")."""
    return word.casefold().replace("\u2019", "'").split("'")[0]


def _lexicon(nlp: Any | None, parts: tuple[str, ...]) -> frozenset[str]:
    """Words of the pipeline's lemmatizer index (WordNet) for the given parts of speech."""
    if nlp is None:
        return frozenset()
    try:
        table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    except (KeyError, ValueError, AttributeError):
        return frozenset()
    words: set[str] = set()
    for part in parts:
        words.update(w for w in table.get(part, ()) if w.isalpha())
    return frozenset(words)
