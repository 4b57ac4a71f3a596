"""Checks that turn a regex match into a confident finding (checksums, ranges, shapes).

Each scorer takes the matched value and the rule's base score and returns the score to use,
or None to drop the match.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Scorer = Callable[[str, float], float | None]

_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")
_IPV4_LIKE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_NANP = re.compile(r"^(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}$")
_EXTENSION_WORD = r"(?:x|ext\.?|extn\.?|extension)"
# A phone extension right after the number, in the forms people and systems write it:
# "(99)", " (ext. 99)", " x99", "x.99", " ext. 99", " extension 99", ";ext=99" (RFC 3966),
# " #99" and ",99" (a dial-string pause; ", 99" with a space is more often a list).
PHONE_EXTENSION = (
    r"(?:[ ]?\([ ]?(?:" + _EXTENSION_WORD + r"[ .:]?[ ]?)?\d{1,6}[ ]?\)"
    r"|[ ]?" + _EXTENSION_WORD + r"[ .:]?[ ]?\d{1,6}"
    r"|;ext=\d{1,6}"
    r"|[ ]?\#[ ]?\d{1,6}"
    r"|,\d{1,6})"
)
_TRAILING_EXTENSION = re.compile(PHONE_EXTENSION + "$", re.IGNORECASE)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}


def digits(value: str) -> str:
    """The digits of ``value``, in order."""
    return "".join(ch for ch in value if ch.isdigit())


def luhn_ok(number: str) -> bool:
    """True if the digit string passes the Luhn check (cards, IMEIs)."""
    total, double = 0, False
    for ch in reversed(number):
        n = int(ch)
        if double:
            n = n * 2 - 9 if n > 4 else n * 2
        total, double = total + n, not double
    return total % 10 == 0


def keep(value: str, score: float) -> float | None:
    """Accept every match at the rule's score."""
    return score


def at_least_digits(count: int) -> Scorer:
    """Accept values with at least ``count`` digits (labelled identifiers)."""

    def scorer(value: str, score: float) -> float | None:
        return score if len(digits(value)) >= count else None

    return scorer


def phone_score(value: str, score: float) -> float | None:
    """6-15 digits, not a date or an address; clear phone shapes score higher.

    An extension is left out of the checks, so "610-362-7498(99)" is as clear a US number
    as "610-362-7498".
    """
    main = _TRAILING_EXTENSION.sub("", value)
    n = len(digits(main))
    if not 6 <= n <= 15 or _DATE_LIKE.match(main) or _IPV4_LIKE.match(main):
        return None
    if n == 6 and not re.fullmatch(r"\d{2}[ .-]\d{2}[ .-]\d{2}|\d{3}[ .-]\d{3}", main):
        return None
    if not re.search(r"[\s().+-]", main):
        return score if n >= 9 else None
    strong = _NANP.match(main) or main.startswith(("+", "00", "(")) or "(0)" in main
    return max(score, 0.5) if strong else score


def card_score(value: str, score: float) -> float | None:
    """12-19 digits with a valid Luhn check digit; an unusual issuer digit needs context."""
    number = digits(value)
    if not 12 <= len(number) <= 19 or not luhn_ok(number):
        return None
    return score if number[0] in "23456" else min(score, 0.3)


def vin_score(value: str, score: float) -> float | None:
    """A 17-character VIN: letters and digits; a valid check digit scores high."""
    if sum(ch.isdigit() for ch in value) < 3 or sum(ch.isalpha() for ch in value) < 2:
        return None
    total = sum(_VIN_VALUES.get(ch, 0) * w for ch, w in zip(value, _VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return max(score, 0.75) if value[8] == check else score


def age_score(value: str, score: float) -> float | None:
    """An age: 0 to 124 years."""
    number = digits(value)
    return score if number and 0 < int(number) < 125 else None


def bic_score(value: str, score: float) -> float | None:
    """A SWIFT/BIC code: a digit in the location or branch part makes it likely."""
    return max(score, 0.5) if any(ch.isdigit() for ch in value[6:]) else score
