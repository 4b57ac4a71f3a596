from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from core.configs import config_to_json, from_json
from core.errors import UserError


@dataclass(frozen=True, slots=True)
class _Config:
    source: Path
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    targets: tuple[str, ...] | None = None
    out: Path | None = None
    name: str = "x"


def test_round_trip_through_json_restores_paths_and_tuples():
    config = _Config(Path("/data/a.csv"), (0.7, 0.2, 0.1), ("q", "v"), None, "n")
    stored = config_to_json(config)
    assert stored == {"source": "/data/a.csv", "split": [0.7, 0.2, 0.1],
                      "targets": ["q", "v"], "out": None, "name": "n"}  # fmt: skip
    assert from_json(_Config, stored) == config


def test_unknown_keys_are_ignored_and_missing_ones_take_defaults():
    config = from_json(_Config, {"source": "/d", "added_later": 1})
    assert config == _Config(Path("/d"))


def test_a_missing_required_field_is_a_user_error():
    with pytest.raises(UserError, match="incomplete"):
        from_json(_Config, {"name": "n"})
