"""Turning one cell of any reader (a CSV string, a JSON value, an Excel or Parquet value)
into the text Stillroom stores."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal


class UnsupportedCell(TypeError):
    """A cell holds a value that has no sensible text form (a list, an object, bytes)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def cell_text(value: object) -> str:
    """The text of one cell; ``""`` for a missing one.

    Whole floats lose their ``.0`` because Excel and Parquet store the label ``1`` as
    ``1.0`` and the user typed ``1``; NaN is how pandas-written files mark a missing value.

    Raises:
        UnsupportedCell: the value is a list, an object or bytes (its type is named, never
            its content).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        whole = value.is_finite() and value == value.to_integral_value()
        return str(int(value)) if whole else str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        raise UnsupportedCell("a JSON object")
    if isinstance(value, list | tuple):
        raise UnsupportedCell("a list")
    if isinstance(value, bytes | bytearray):
        raise UnsupportedCell("binary data")
    return str(value)
