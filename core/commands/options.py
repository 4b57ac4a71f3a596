"""Options that set a stage's config: their defaults live in the config dataclass only.

An option's ``dest`` is the config field it sets and its argparse default is None, so
:func:`given` passes on only what was typed and the dataclass fills in the rest; help texts
show a default by reading it with :func:`default_of`, never by restating it.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def default_of(config: type, name: str) -> Any:
    """The default of the field ``name`` of the dataclass ``config``.

    Raises:
        KeyError: the field does not exist or has no default.
    """
    for field in dataclasses.fields(config):
        if field.name != name:
            continue
        if field.default is not dataclasses.MISSING:
            return field.default
        if field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
    raise KeyError(f"{config.__name__}.{name} has no default")


def given(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The fields of the dataclass ``config`` that the command line set (not None)."""
    names = {field.name for field in dataclasses.fields(config)}
    return {name: value for name, value in vars(args).items()
            if name in names and value is not None}  # fmt: skip


def add_numbers(
    parser: argparse.ArgumentParser,
    config: type,
    options: tuple[tuple[str, type, str], ...],
    metavars: dict[str, str] | None = None,
) -> None:
    """Add ``(--flag, type, help)`` options that set the number field ``flag`` of ``config``;
    ``{}`` in a help text shows the field's default (``{:g}`` for a float)."""
    for flag, kind, text in options:
        name = flag[2:].replace("-", "_")
        shown = text.format(default_of(config, name)) if "{" in text else text
        parser.add_argument(flag, type=kind, help=shown, metavar=(metavars or {}).get(flag))
