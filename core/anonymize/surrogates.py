"""Realistic stand-ins for found values, the same for the same value within a project.

A surrogate is drawn from Faker seeded by a keyed hash of the (entity type, normalised
value, attempt), so any process makes the same choice; the vault keeps the first choice and
settles collisions by retrying with the next attempt number. Values without a natural Faker
provider keep their shape: every digit becomes a random digit and every letter a random
letter of the same case, punctuation stays.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import string
from collections.abc import Callable
from typing import Any

from core.errors import AnonymizeError

_WORD = re.compile(r"[^\W\d_](?:[\w'\u2019-]*\w)?")


def normalise(entity: str, value: str) -> str:
    """The form two mentions of the same value share (case, spacing, separators)."""
    if entity in ("PERSON", "LOCATION", "ORGANIZATION", "NRP", "STREET_ADDRESS"):
        return " ".join(value.casefold().split())
    return "".join(ch for ch in value.casefold() if ch.isalnum())


def match_case(template: str, value: str) -> str:
    """``value`` in the case style of ``template`` (lower, UPPER or as generated)."""
    letters = [ch for ch in template if ch.isalpha()]
    if letters and all(ch.islower() for ch in letters):
        return value.lower()
    if len(letters) > 1 and all(ch.isupper() for ch in letters):
        return value.upper()
    return value


def shape_preserving(value: str, rng: random.Random) -> str:
    """Random digits for digits, random letters (same case) for letters, the rest kept."""
    out = []
    for ch in value:
        if ch.isdigit():
            out.append(rng.choice(string.digits))
        elif ch.isalpha() and ch.isascii():
            pool = string.ascii_uppercase if ch.isupper() else string.ascii_lowercase
            out.append(rng.choice(pool))
        else:
            out.append(ch)
    return "".join(out)


class SurrogateMaker:
    """Deterministic Faker surrogates for one project (its seed key) and locale."""

    def __init__(self, locale: str, seed_key: bytes) -> None:
        from faker import Faker

        try:
            self._faker = Faker(locale)
        except AttributeError as exc:
            raise AnonymizeError(
                f"unknown Faker locale {locale!r}", "use a locale such as en_US, en_GB, de_DE"
            ) from exc
        self._key = seed_key
        self._makers: dict[str, Callable[[str, random.Random], str]] = {
            "LOCATION": lambda v, r: self._faker.city(),
            "STREET_ADDRESS": lambda v, r: self._faker.street_address(),
            "EMAIL_ADDRESS": lambda v, r: self._faker.safe_email(),
            "URL": lambda v, r: f"https://www.{self._faker.domain_word()}.example.com/",
            "ORGANIZATION": lambda v, r: self._faker.company(),
            "DATE_TIME": lambda v, r: self._faker.date(pattern="%B %d, %Y"),
            "AGE": lambda v, r: str(r.randint(20, 85)),
            "IP_ADDRESS": lambda v, r: (
                self._faker.ipv6() if ":" in v else self._faker.ipv4_private()
            ),
        }

    def _seeded(self, entity: str, normalised: str, attempt: int) -> random.Random:
        digest = hmac.new(
            self._key, f"{entity}\x1f{normalised}\x1f{attempt}".encode(), hashlib.sha256
        ).digest()
        seed = int.from_bytes(digest[:8], "big")
        self._faker.seed_instance(seed)
        return random.Random(seed)

    def value(self, entity: str, original: str, attempt: int = 0) -> str:
        """A surrogate for a whole value (everything but person names)."""
        rng = self._seeded(entity, normalise(entity, original), attempt)
        maker = self._makers.get(entity)
        made = maker(original, rng) if maker else shape_preserving(original, rng)
        return match_case(original, made)

    def name_part(self, word: str, given: bool, attempt: int = 0) -> str:
        """A surrogate for one word of a person's name (given or family name)."""
        self._seeded("PERSON", word.casefold(), attempt)
        made: Any = self._faker.first_name() if given else self._faker.last_name()
        if attempt > 3:
            # The locale's name list is nearly used up: make a longer, still natural name.
            made = f"{made}-{self._faker.last_name()}"
        return match_case(word, str(made))


def name_words(value: str) -> list[tuple[int, int]]:
    """The (start, end) of each word of a person's name within ``value``."""
    return [m.span() for m in _WORD.finditer(value)]
