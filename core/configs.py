"""Stage configs to and from the JSON stored in ``runs.config``.

Every stage's config is a frozen dataclass of plain values, paths and tuples; JSON has no
paths or tuples, so they are written as strings and lists and restored from the dataclass's
own annotations. Unknown keys are ignored, so a run stored by an older version still loads.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from core.errors import UserError

T = TypeVar("T")


def config_to_json(config: Any) -> dict[str, Any]:
    """A dataclass instance as JSON-able values (paths → strings, tuples → lists)."""
    return {
        field.name: _jsonable(getattr(config, field.name)) for field in dataclasses.fields(config)
    }


def config_from_json(
    cls: type[T], values: Mapping[str, Any], invalid: Callable[[], UserError]
) -> T:
    """Rebuild a ``cls`` instance from :func:`config_to_json` output.

    Raises:
        UserError: ``invalid()``, when the values are missing a required field.
    """
    hints = typing.get_type_hints(cls)
    kwargs = {
        field.name: _restore(hints[field.name], values[field.name])
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if field.name in values
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise invalid() from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    return value


def _restore(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    if Path in options:
        return Path(value)
    for option in options:
        if typing.get_origin(option) is tuple and isinstance(value, list):
            inner = typing.get_args(option)
            item_hint = inner[0] if inner else Any
            return tuple(_restore(item_hint, item) for item in value)
    return value


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)
