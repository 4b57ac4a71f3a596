"""Name and place rules on top of the spaCy model's own entities.

The small English model misses many names: foreign ones, single surnames, lower-cased ones.
These rules add what a careful reader uses: a title before a word ("Dr. Okafor"), runs of
capitalised words of which one is a known given or family name, known cities, regions and
countries, place-shaped words ("Lake X", "Xville"), and lower-case words that are known
names but not English words. Scores are deliberately graded: weak evidence lands below the
review threshold, so the record is flagged for a human look.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from core.anonymize.gazetteers import (
    MONTHS_AND_DAYS,
    PLACE_PREFIXES,
    PLACE_SUFFIXES,
    TITLES,
    english_words,
    gazetteers,
)

_NAME = "StillroomNamesAndPlaces"
_PLACE_PREPOSITIONS = frozenset({
    "in", "from", "to", "at", "near", "of", "via", "towards", "around", "outside", "inside",
    "into", "across",
})  # fmt: skip
_SENTENCE_END = frozenset(
    {".", "!", "?", ":", ";", '"', "“", "”", "(", "\\n", "-", "\u2014", "\u2013"}
)


class NamesAndPlacesRecognizer(EntityRecognizer):
    """PERSON and LOCATION spans from word lists and the tokens' shape and part of speech."""

    def __init__(self, entities: Sequence[str], nlp: Any) -> None:
        self._dictionary = english_words(nlp)
        super().__init__(supported_entities=list(entities), name=_NAME)

    def load(self) -> None:
        self._lists = gazetteers()
        self._dictionary = self._dictionary | self._lists.common_words

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        spacy_doc = getattr(nlp_artifacts, "tokens", None)
        if spacy_doc is None or len(spacy_doc) == 0:
            return []
        doc = _tokens(spacy_doc)
        runs = _capitalised_runs(doc)
        found: list[tuple[str, int, int, float]] = []
        if "PERSON" in entities:
            found += (
                self._titled(doc) + self._runs(runs) + self._lowercase(doc) + self._speakers(doc)
            )
        if "LOCATION" in entities:
            found += self._places(runs) + self._after_preposition(doc, runs)
        return [self._result(*item) for item in found]

    def _result(self, entity: str, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            entity,
            start,
            end,
            score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: _NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
            },
        )

    # -- persons -------------------------------------------------------------------------

    def _titled(self, doc: list[_Tok]) -> list[tuple[str, int, int, float]]:
        found = []
        for token in doc[:-1]:
            if token.text.rstrip(".").casefold() not in TITLES:
                continue
            names: list[_Tok] = []
            for follower in doc[token.i + 1 : token.i + 5]:
                if follower.text == "." and not names:
                    continue
                if not (_capitalised(follower) or _initial(follower)):
                    break
                names.append(follower)
            if names:
                found.append(("PERSON", names[0].idx, _end(names[-1]), 0.85))
        return found

    def _runs(self, runs: list[list[_Tok]]) -> list[tuple[str, int, int, float]]:
        found = []
        for run in runs:
            run = self._trim(run)
            words = [t for t in run if not _initial(t) and t.text != "-"]
            hits = sum(self._lists.is_name(t.text) for t in words)
            if not words:
                continue
            if not hits:
                score = self._unknown_score(words)
            elif len(words) >= 2:
                common = sum(t.text.casefold() in self._dictionary for t in words)
                if common == len(words) and hits < len(words):
                    continue
                score = 0.75 if hits >= 2 else 0.65
            else:
                score = self._single_name_score(words[0])
            if score:
                found.append(("PERSON", run[0].idx, _end(run[-1]), score))
        return found

    def _single_name_score(self, token: _Tok) -> float:
        folded = token.text.casefold()
        if folded in MONTHS_AND_DAYS or folded in TITLES:
            return 0.0
        common = folded in self._lists.common_words
        if token.starts:
            return 0.0 if common else 0.5
        if common:
            return 0.45 if token.proper else 0.0
        return 0.65 if token.proper else 0.5

    def _unknown_score(self, words: list[_Tok]) -> float:
        """Capitalised words that are no English word and no known place: likely a name."""
        for token in words:
            folded = token.text.casefold()
            if (
                folded in self._dictionary
                or folded in self._lists.places
                or any(ch.isdigit() for ch in folded)
                or (token.is_upper and len(token.text) < 5)
            ):
                return 0.0
        if not any(t.proper or _foreign_script(t.text) for t in words):
            return 0.0
        return 0.55 if len(words) >= 2 else 0.5

    def _speakers(self, doc: list[_Tok]) -> list[tuple[str, int, int, float]]:
        """A line that starts "Name:" (transcripts, chat logs), unless Name is a word."""
        found = []
        for token in doc[:-1]:
            if (
                doc[token.i + 1].text == ":"
                and _capitalised(token)
                and token.starts
                and token.text.casefold() not in self._dictionary
            ):
                found.append(("PERSON", token.idx, _end(token), 0.6))
        return found

    def _trim(self, run: list[_Tok]) -> list[_Tok]:
        while run and (
            run[0].text.casefold() in self._lists.common_words
            or run[0].text.rstrip(".").casefold() in TITLES
        ):
            run = run[1:]
        while run and (
            run[-1].text == "-"
            or (
                run[-1].text.casefold() in self._dictionary
                and not self._lists.is_name(run[-1].text)
            )
        ):
            run = run[:-1]
        return run

    def _lowercase(self, doc: list[_Tok]) -> list[tuple[str, int, int, float]]:
        found = []
        lists = self._lists
        for token in doc:
            folded = token.text
            if not (token.is_lower and token.is_alpha and len(folded) > 2):
                continue
            nxt = doc[token.i + 1] if token.i + 1 < len(doc) else None
            if (
                nxt is not None
                and nxt.is_lower
                and folded in lists.first_names
                and nxt.text in lists.last_names
                and not (folded in lists.common_words and nxt.text in lists.common_words)
            ):
                found.append(("PERSON", token.idx, _end(nxt), 0.6))
            elif lists.is_name(folded) and folded not in self._dictionary:
                found.append(("PERSON", token.idx, _end(token), 0.45))
        return found

    # -- places --------------------------------------------------------------------------

    def _places(self, runs: list[list[_Tok]]) -> list[tuple[str, int, int, float]]:
        found = []
        places = self._lists.places
        for run in runs:
            i = 0
            while i < len(run):
                for size in (3, 2, 1):
                    gram = run[i : i + size]
                    if len(gram) < size:
                        continue
                    phrase = " ".join(t.text.casefold() for t in gram)
                    score = self._place_score(gram, phrase in places)
                    if score:
                        found.append(("LOCATION", gram[0].idx, _end(gram[-1]), score))
                        i += size - 1
                        break
                i += 1
        return found

    def _after_preposition(
        self, doc: list[_Tok], runs: list[list[_Tok]]
    ) -> list[tuple[str, int, int, float]]:
        """ "in X", "from X", "to X": a capitalised run that is no word and no known name."""
        found = []
        for run in runs:
            first = run[0]
            if first.i == 0 or doc[first.i - 1].lower_ not in _PLACE_PREPOSITIONS:
                continue
            folded = [t.text.casefold() for t in run]
            if any(w in self._lists.common_words or w in MONTHS_AND_DAYS for w in folded):
                continue
            if len(run) == 1 and (
                self._lists.is_name(first.text)
                or (folded[0] in self._dictionary and not first.is_upper and not first.proper)
            ):
                continue
            found.append(("LOCATION", first.idx, _end(run[-1]), 0.5))
        return found

    def _place_score(self, gram: list[_Tok], known: bool) -> float:
        first = gram[0]
        folded = first.text.casefold()
        if len(gram) > 1:
            if known:
                return 0.75
            shaped = folded.rstrip(".") in PLACE_PREFIXES and len(gram) == 2
            second = gram[1].text.casefold()
            if shaped and gram[1].proper and second not in self._lists.common_words:
                return 0.6
            return 0.0
        if folded in self._lists.common_words or folded in MONTHS_AND_DAYS:
            return 0.0
        if known:
            ambiguous = self._lists.is_name(first.text) or first.starts
            return 0.55 if ambiguous else 0.7
        if (
            first.proper
            and folded.endswith(PLACE_SUFFIXES)
            and len(folded) > 6
            and folded not in self._dictionary
            and not self._lists.is_name(first.text)
        ):
            return 0.5
        return 0.0


def _capitalised(token: _Tok) -> bool:
    text = token.text
    return (
        len(text) > 1
        and text[0].isupper()
        and (text[1:].lower() != text[1:].upper() or text[1:] in ("'", "\u2019"))
    )


def _foreign_script(text: str) -> bool:
    """Letters outside the Latin script (a Greek or Cyrillic name in English text)."""
    return any(
        ch.isalpha() and not ch.isascii() and "LATIN" not in unicodedata.name(ch, "") for ch in text
    )


def _initial(token: _Tok) -> bool:
    text = token.text.rstrip(".")
    return len(text) == 1 and text.isupper()


def _end(token: _Tok) -> int:
    return int(token.idx + len(token.text))


@dataclass(slots=True)
class _Tok:
    """What the rules read of a spaCy token, read once (token access is costly)."""

    text: str
    i: int
    idx: int
    proper: bool  # tagged NNP/NNPS: a proper noun
    is_upper: bool
    is_lower: bool
    is_alpha: bool
    whitespace_: str
    lower_: str
    starts: bool  # first token of a sentence or a line


def _tokens(doc: Any) -> list[_Tok]:
    tokens: list[_Tok] = []
    before: Any = None
    for token in doc:
        text = token.text
        starts = (
            before is None or before.text in _SENTENCE_END or "\n" in before.text or before.is_space
        )
        tokens.append(
            _Tok(
                text,
                token.i,
                token.idx,
                token.tag_ in ("NNP", "NNPS"),
                token.is_upper,
                token.is_lower,
                token.is_alpha,
                token.whitespace_,
                token.lower_,
                starts,
            )
        )
        before = token
    return tokens


def _capitalised_runs(doc: list[_Tok]) -> list[list[_Tok]]:
    """Maximal runs of capitalised words, initials and inner hyphens on one line."""
    runs: list[list[_Tok]] = []
    current: list[_Tok] = []
    for token in doc:
        joins = token.text == "-" and current and not token.whitespace_
        if _capitalised(token) or (_initial(token) and current) or joins:
            current.append(token)
            if token.whitespace_ not in ("", " "):
                runs.append(current)
                current = []
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    return runs
