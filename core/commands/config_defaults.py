"""Stage options with one source: the config dataclass holds every default.

Commands declare their options with ``default=None`` (so an option left out is not given),
write the dataclass's default into the help text with :func:`default`, and build the config
from the options that were given with :func:`given`; the desktop pages read :func:`default`
for their initial values. Options are named like the fields (``--latency-runs`` →
``latency_runs``; a ``--no-…`` switch stores False under the field's name).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def default(cls: type, name: str) -> Any:
    """The default of the dataclass ``cls``'s field ``name``.

    Raises:
        KeyError: ``cls`` has no such field, or it has no default.
    """
    for field in dataclasses.fields(cls):
        if field.name == name and field.default is not dataclasses.MISSING:
            return field.default
    raise KeyError(f"{cls.__name__}.{name} has no default")


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options in ``args`` that name a field of ``cls`` and were given (not None)."""
    values = vars(args)
    return {
        field.name: values[field.name]
        for field in dataclasses.fields(cls)
        if values.get(field.name) is not None
    }
