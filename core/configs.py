"""Stage configs and results to and from the JSON the project stores (``runs.config``,
``runs.result``).

Configs and results are frozen dataclasses of plain values, paths, tuples, mappings, enums
and nested dataclasses. JSON has none of those, so they are written as strings, lists and
objects and restored from the dataclass's own annotations. Reading is lenient in the ways
that keep older projects open: unknown keys are ignored and missing fields take their
defaults. A missing field that has no default is a :class:`StoredDataError`.

Paths inside the project folder are stored relative to it and resolved against the folder
the project is in now, so a copied or archived project uses its own files (DESIGN §3).
Paths outside it (an import source, a model folder the user picked) stay absolute.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from core.errors import StoredDataError

T = TypeVar("T")

_SEQUENCES = (tuple, list, typing.Sequence, typing.MutableSequence)
_MAPPINGS = (dict, Mapping, typing.Mapping, typing.MutableMapping)


def to_json(value: Any, root: Path | None = None) -> Any:
    """A config, result or any value inside one as JSON-able data.

    Args:
        value: a dataclass instance or a value of a field.
        root: the project folder; paths under it are written relative to it.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), root) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return _path_to_json(value, root)
    if isinstance(value, enum.Enum):
        return to_json(value.value, root)
    if isinstance(value, tuple | list | set | frozenset):
        return [to_json(item, root) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_json(item, root) for key, item in value.items()}
    return value


def from_json(cls: type[T], values: Mapping[str, Any], root: Path | None = None) -> T:
    """Rebuild a ``cls`` instance from :func:`to_json` output.

    Args:
        cls: the dataclass to build.
        values: its stored form.
        root: the project folder that relative paths are resolved against.

    Raises:
        StoredDataError: the values lack a required field or do not fit the annotations.
    """
    return typing.cast(T, _restore(cls, values, root))


def config_to_json(config: Any) -> dict[str, Any]:
    """Shorthand for :func:`to_json` of a dataclass with no project folder."""
    values: dict[str, Any] = to_json(config)
    return values


def _path_to_json(path: Path, root: Path | None) -> str:
    path = path.expanduser()
    if root is not None:
        absolute = path if path.is_absolute() else Path.cwd() / path
        if absolute.is_relative_to(root):
            return absolute.relative_to(root).as_posix() or "."
    return str(path)


def _restore(hint: Any, value: Any, root: Path | None) -> Any:
    if value is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _restore_union(typing.get_args(hint), value, root)
    if origin is typing.Literal:
        return value
    if origin in _SEQUENCES:
        return _restore_sequence(hint, origin, value, root)
    if origin in _MAPPINGS:
        _, item_hint = typing.get_args(hint) or (str, Any)
        return {key: _restore(item_hint, item, root) for key, item in _as_mapping(value).items()}
    if isinstance(hint, type):
        return _restore_type(hint, value, root)
    return value


def _restore_type(hint: type, value: Any, root: Path | None) -> Any:
    if dataclasses.is_dataclass(hint):
        return _restore_dataclass(hint, value, root)
    if issubclass(hint, Path):
        stored = Path(value)
        return stored if root is None or stored.is_absolute() else root / stored
    if issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (tuple, list):
        return hint(value)
    return value


def _restore_union(options: tuple[Any, ...], value: Any, root: Path | None) -> Any:
    concrete = [option for option in options if option is not type(None)]
    if len(concrete) == 1:
        return _restore(concrete[0], value, root)
    if isinstance(value, str) and Path in concrete:
        return _restore(Path, value, root)
    for option in concrete:  # e.g. ``float | str``: the first option the value fits
        base = typing.get_origin(option) or option
        if dataclasses.is_dataclass(base) and isinstance(value, Mapping):
            return _restore(option, value, root)
        if isinstance(base, type) and isinstance(value, base):
            return _restore(option, value, root)
    return value


def _restore_sequence(hint: Any, origin: Any, value: Any, root: Path | None) -> Any:
    if not isinstance(value, list | tuple):
        raise StoredDataError(f"expected a list, found {type(value).__name__}")
    args = typing.get_args(hint)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return tuple(_restore(h, v, root) for h, v in zip(args, value, strict=False))
    item_hint = args[0] if args else Any
    items = [_restore(item_hint, item, root) for item in value]
    return items if origin is list else tuple(items)


def _restore_dataclass(cls: type, value: Any, root: Path | None) -> Any:
    values = _as_mapping(value)
    hints = typing.get_type_hints(cls)
    kwargs = {
        field.name: _restore(hints[field.name], values[field.name], root)
        for field in dataclasses.fields(cls)
        if field.name in values and field.init
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise StoredDataError(f"the stored {cls.__name__} is incomplete") from exc


def _as_mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StoredDataError(f"expected an object, found {type(value).__name__}")
    return value
