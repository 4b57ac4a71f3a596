"""Word lists the name and place rules look words up in, built once per process.

Given and family names, cities, regions and countries come from Faker's locale providers
(census- and registry-derived lists for some 60 locales, Latin script only); English words
from the spaCy model's lemmatizer tables and Faker's common-word list. Everything is stored
case-folded. No list is downloaded.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

TITLES = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lord", "lady", "rev", "fr",
    "sr", "sra", "srta", "herr", "frau", "mme", "mlle", "monsieur", "madame", "signor",
    "signora", "dott", "don", "doña", "capt", "col", "gen", "lt", "sgt",
})  # fmt: skip
MONTHS_AND_DAYS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday",
})  # fmt: skip
PLACE_PREFIXES = frozenset({
    "north", "south", "east", "west", "new", "lake", "port", "mount", "mt", "fort", "saint",
    "st", "san", "santa", "los", "las", "el", "glen", "cape", "upper", "lower", "great",
    "little",
})  # fmt: skip
PLACE_SUFFIXES = (
    "ville", "town", "ton", "burgh", "borough", "bury", "berg", "chester", "stad", "furt",
    "fort", "haven", "mouth", "port", "shire", "field", "ford", "dale", "wood", "side",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Gazetteers:
    first_names: frozenset[str]
    last_names: frozenset[str]
    places: frozenset[str]
    common_words: frozenset[str]

    def is_name(self, word: str) -> bool:
        folded = word.casefold()
        return folded in self.first_names or folded in self.last_names


def _latin(text: str) -> bool:
    return all(ord(ch) < 0x250 or ch in "'\u2019- ." for ch in text)


def _values(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        value = value.keys()
    if isinstance(value, list | tuple | set | frozenset) or hasattr(value, "keys"):
        return (v for v in value if isinstance(v, str))
    return ()


def _provider_words(package: str, attributes: tuple[str, ...]) -> set[str]:
    """Every Latin-script string in the named attributes of a Faker provider package."""
    words: set[str] = set()
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        try:
            provider = importlib.import_module(f"{package}.{info.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attribute in attributes:
            words.update(
                w.casefold().strip() for w in _values(getattr(provider, attribute, ())) if _latin(w)
            )
    words.discard("")
    return words


def english_words(nlp: Any) -> frozenset[str]:
    """Words of a spaCy pipeline's lemmatizer index (WordNet), if it has one."""
    try:
        table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    except (KeyError, ValueError, AttributeError):
        return frozenset()
    words: set[str] = set()
    for entries in table.values():
        words.update(entries)
    return frozenset(w for w in words if w.isalpha())


@functools.cache
def gazetteers() -> Gazetteers:
    """The word lists, built on first use in this process (about half a second)."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    first = _provider_words(
        "faker.providers.person",
        ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"),
    )
    last = _provider_words(
        "faker.providers.person", ("last_names", "last_names_male", "last_names_female")
    )
    places = _provider_words(
        "faker.providers.address",
        ("cities", "city_names", "countries", "states", "provinces", "regions"),
    )
    common = {w.casefold() for w in Lorem.word_list} | set(STOP_WORDS) | MONTHS_AND_DAYS
    return Gazetteers(
        first_names=frozenset(w for w in first if len(w) > 1),
        last_names=frozenset(w for w in last if len(w) > 1),
        places=frozenset(p for p in places if len(p) > 2 and p not in common),
        common_words=frozenset(common | TITLES),
    )
