"""Is a record in another language than English? The ``non_english`` review flag.

The English model misses names in other languages, so such records deserve a look. The
first check flagged a record when under a tenth of its words were English function words:
on the demo's airline tweets (all English: short, with handles, links, names and codes) it
flagged 93 of 2,750 records, every one falsely. A flag now needs evidence *for* another
language: a mostly non-Latin script, more function words of a common European language
than of English, or not one English function word and few everyday English words; counted
on the words left once handles, links, hashtags and the identifiers found are set aside.
Measured by ``bench/review_flags_bench.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from core.anonymize.gazetteers import gazetteers

_SET_ASIDE = re.compile(r"(?:https?://|www\.)\S+|[@#]\w+")
_WORD = re.compile(r"[^\W\d_]+")
MIN_WORDS = 5
MIN_LETTERS = 20
# English function words (no content words: those are shared with other languages).
ENGLISH = frozenset({
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "is", "are",
    "was", "were", "be", "been", "it", "this", "that", "i", "you", "he", "she", "we", "they",
    "my", "your", "his", "her", "our", "their", "not", "no", "have", "has", "had", "do", "does",
    "did", "will", "would", "can", "could", "please", "from", "by", "as", "but", "if", "so",
    "what", "when", "where", "who", "how", "me", "just", "get", "got", "im", "its", "dont",
    "all", "there", "any", "out", "up", "now", "thanks", "thank", "why", "am", "us",
    "about", "after", "again", "still", "should", "than", "then", "them", "him", "yes",
})  # fmt: skip
# Frequent function words of German, French, Spanish, Italian, Dutch and Portuguese that are
# not English words.
FOREIGN = frozenset({
    "der", "die", "das", "und", "ist", "nicht", "ich", "sie", "mit", "auf", "für", "ein",
    "eine", "den", "dem", "zu", "von", "wir", "bitte", "danke", "sehr", "nach", "wurde",
    "le", "les", "des", "est", "et", "une", "du", "pas", "je", "vous", "nous", "avec", "pour",
    "dans", "sur", "qui", "que", "mais", "merci", "très", "été", "au", "aux", "il", "elle",
    "el", "los", "las", "es", "y", "una", "por", "con", "para", "muy", "gracias", "pero",
    "del", "se", "lo", "su", "mi", "está", "fue", "gli", "della", "di", "che", "non", "sono",
    "grazie", "molto", "ho", "het", "een", "niet", "ik", "wij", "zijn", "voor", "dank", "van",
    "op", "em", "não", "um", "uma", "obrigado", "muito", "com", "os", "da", "ao", "foi", "la",
    "ne", "en", "de",
})  # fmt: skip


def looks_non_english(text: str, found: Iterable[tuple[int, int]] = ()) -> bool:
    """Whether ``text`` reads as another language, ignoring the spans in ``found`` (the
    identifiers detected in it) and handles, links and hashtags."""
    kept = list(text)
    for start, end in found:
        kept[start:end] = " " * (end - start)
    words = [w.casefold() for w in _WORD.findall(_SET_ASIDE.sub(" ", "".join(kept)))]
    letters = "".join(words)
    if len(letters) >= MIN_LETTERS:
        latin = sum(ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in letters)
        if latin < 0.7 * len(letters):
            return True
    if len(words) < MIN_WORDS:
        return False
    english = sum(w in ENGLISH for w in words)
    foreign = sum(w in FOREIGN for w in words)
    if foreign >= 2 and foreign > english:
        return True
    # No English function word at all in a longer text, and few everyday English words.
    everyday = gazetteers().common_words
    return english == 0 and sum(w in everyday for w in words) < 0.2 * len(words)
