"""Checking that the columns a user named exist, and saying what to use when they do not.

Column names are shown in messages; values never are. A "name" longer than 64 characters
is almost certainly a data row in a file without a header, so it is described, not shown.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from core.errors import ColumnError, UserError

_SHOWN_NAME_CHARS = 64
_SHOWN_COLUMNS = 30


def require_columns(
    available: Sequence[str], roles: dict[str, str | None], source_name: str
) -> None:
    """Check each named column exists exactly once in ``available``.

    Args:
        available: the file's column names.
        roles: role (``text``, ``label``, ``flag``) to the column the user named, or None.
        source_name: the file name, for messages.

    Raises:
        UserError: two roles name the same column.
        ColumnError: a column is missing (the closest name is suggested) or appears twice.
    """
    named = [name for name in roles.values() if name is not None]
    if len(set(named)) != len(named):
        raise UserError(
            "the text, label and flag columns must be different columns",
            "name each role's column once",
        )
    for role, name in roles.items():
        if name is None:
            continue
        count = list(available).count(name)
        if count == 0:
            raise _missing(name, role, available, source_name)
        if count > 1:
            raise ColumnError(
                f"{source_name} has {count} columns named {name!r}",
                "rename them in the file so that every column name is unique",
            )


def describe_columns(available: Sequence[str]) -> str:
    """The column names for a hint, with header-less data rows kept out of it."""
    shown = []
    for index, name in enumerate(available[:_SHOWN_COLUMNS], start=1):
        if not name:
            shown.append(f"<column {index}: no name>")
        elif len(name) > _SHOWN_NAME_CHARS:
            shown.append(f"<column {index}: {len(name)} characters; is there a header row?>")
        else:
            shown.append(repr(name))
    more = len(available) - _SHOWN_COLUMNS
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def closest_column(name: str, available: Sequence[str]) -> str | None:
    """The column the user most likely meant: same name in another case, else difflib's."""
    usable = [c for c in available if c and len(c) <= _SHOWN_NAME_CHARS]
    by_lower = {column.lower(): column for column in usable}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


def _missing(name: str, role: str, available: Sequence[str], source_name: str) -> ColumnError:
    guess = closest_column(name, available)
    did_you_mean = f"; did you mean {guess!r}?" if guess else ""
    return ColumnError(
        f"{source_name} has no column {name!r} (for the {role}){did_you_mean}",
        f"its columns are: {describe_columns(available)}",
    )
