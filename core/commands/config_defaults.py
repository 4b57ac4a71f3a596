"""One source for a stage's defaults: its config dataclass.

Commands declare options with ``default=None`` (left out: not given) named like the fields
(``--latency-runs`` → ``latency_runs``), print :func:`default` in their help and build the
config from :func:`given`; the desktop pages start from :func:`default` too.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def default(cls: type, name: str) -> Any:
    """The default of the dataclass ``cls``'s field ``name``."""
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options in ``args`` that name a field of ``cls`` and were given (not None)."""
    values = vars(args)
    return {
        f.name: values[f.name] for f in dataclasses.fields(cls) if values.get(f.name) is not None
    }
