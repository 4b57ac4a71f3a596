"""Every stage's config and result survive the store, whatever their values (DESIGN §4)."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.configs import from_json, to_json
from core.errors import StoredDataError
from core.jobs.registry import PIPELINE, STAGES, stage

ROOT = Path("/projects/triage")
_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_paths = st.one_of(
    st.lists(_names.filter(lambda n: n not in ("", ".", "..") and "/" not in n), max_size=3).map(
        lambda parts: ROOT.joinpath(*parts)
    ),  # inside the project: stored relative
    st.just(Path("/srv/models/minilm")),  # outside it: stored absolute
)


# Paths the stages store are absolute: inside the project folder or outside it.
st.register_type_strategy(Path, _paths)

_TYPES = [(s.key, kind) for s in STAGES for kind in ("config", "result")]


@pytest.mark.parametrize(("key", "kind"), _TYPES)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_config_and_result_round_trips_through_the_store(key, kind, data):
    cls = getattr(stage(key), kind)
    value = data.draw(st.from_type(cls))
    stored = json.loads(json.dumps(to_json(value, ROOT)))  # what the runs table holds
    assert _same(from_json(cls, stored, ROOT), value)


def test_paths_inside_the_project_are_stored_relative_and_follow_a_copy():
    from core.train.config import TrainResult

    result = _example(TrainResult, model_dir=ROOT / "runs" / "train-1" / "student")
    stored = to_json(result, ROOT)
    assert stored["model_dir"] == "runs/train-1/student"
    copied = from_json(TrainResult, stored, Path("/archive/triage-copy"))
    assert copied.model_dir == Path("/archive/triage-copy/runs/train-1/student")


def test_paths_outside_the_project_stay_absolute():
    from core.train.config import TrainConfig

    config = TrainConfig(student="/srv/models/minilm", derive=None)
    assert to_json(config, ROOT)["student"] == "/srv/models/minilm"


def test_older_results_open_newer_fields_are_ignored_and_missing_ones_defaulted():
    from core.teacher.config import TeachResult

    stored = to_json(_example(TeachResult), ROOT)
    del stored["warnings"]  # written before the field existed
    stored["added_by_a_later_release"] = 1
    assert from_json(TeachResult, stored, ROOT).warnings == ()


def test_a_result_missing_a_required_field_is_a_user_error():
    from core.train.config import TrainResult

    with pytest.raises(StoredDataError, match="TrainResult is incomplete"):
        from_json(TrainResult, {"run_id": "train-1"}, ROOT)


def test_the_pipeline_is_in_order_and_every_stage_names_its_parts():
    assert [s.key for s in PIPELINE] == [
        "import", "anonymize", "teach", "train", "evaluate", "export", "serve", "monitor",
    ]  # fmt: skip
    for s in STAGES:
        assert callable(s.function()), s.key
        assert dataclasses.is_dataclass(s.config)
        assert dataclasses.is_dataclass(s.result)
    for s in PIPELINE[1:]:
        assert all((s.first, s.ran, s.changed)), s.key


def _example(cls: type, **values: Any) -> Any:
    """An instance with plain values in every required field, and ``values``."""
    hints = typing.get_type_hints(cls)
    required = {
        f.name: _plain(hints[f.name])
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return cls(**{**required, **values})


def _plain(hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return None if type(None) in args else _plain(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (tuple, list):
        return origin()
    if origin is dict or hint is dict:
        return {}
    if dataclasses.is_dataclass(hint):
        return _example(hint)
    return {str: "x", int: 1, float: 1.0, bool: False, Path: ROOT / "x"}.get(hint)


def _same(a: Any, b: Any) -> bool:
    """Equality that treats -0.0 and 0.0 alike and tuples and lists of a field alike."""
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)
