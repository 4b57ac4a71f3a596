"""One source for a stage's defaults: its config dataclass.

Commands declare options with ``default=None`` (left out: not given) whose ``dest`` is the
field they set (``--latency-runs`` → ``latency_runs``), print :func:`default` in their help
and build the config from :func:`given`; the desktop pages start from :func:`default` too.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def default(cls: type, name: str) -> Any:
    """The default of the dataclass ``cls``'s field ``name``.

    Raises:
        KeyError: the field does not exist or has no default.
    """
    for field in dataclasses.fields(cls):
        if field.name == name and field.default is not dataclasses.MISSING:
            return field.default
        if field.name == name and field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
    raise KeyError(f"{cls.__name__}.{name} has no default")


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options in ``args`` that name a field of ``cls`` and were given (not None)."""
    values = vars(args)
    return {
        f.name: values[f.name] for f in dataclasses.fields(cls) if values.get(f.name) is not None
    }


def add_numbers(
    parser: argparse.ArgumentParser,
    cls: type,
    options: tuple[tuple[str, type, str], ...],
    metavars: dict[str, str] | None = None,
) -> None:
    """Add ``(--flag, type, help)`` options that set the number field ``flag`` of ``cls``;
    ``{}`` in a help text shows the field's default (``{:g}`` for a float)."""
    for flag, kind, text in options:
        name = flag[2:].replace("-", "_")
        shown = text.format(default(cls, name)) if "{" in text else text
        parser.add_argument(flag, type=kind, help=shown, metavar=(metavars or {}).get(flag))
