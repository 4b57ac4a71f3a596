"""The registry of teacher sources: one vocabulary for specs, kinds, builders and readers."""

from __future__ import annotations

import pytest

from core.errors import TeacherError
from core.jobs.execute import run_stage
from core.jobs.registry import TEACH
from core.reporter import NullReporter
from core.teacher.config import TeachConfig
from core.teacher.sources import (
    SOURCES,
    SPECS,
    parse_spec,
    resolve,
    source_of,
    spec_form,
    teacher_kind_of,
)


def test_every_source_has_a_spec_a_builder_and_a_task():
    for source in SOURCES:
        assert spec_form(source.spec).prefix == source.spec
        assert callable(source.build), source.kind
        assert source.tasks, source.kind
        assert source_of(source.kind) is source
    assert {s.spec for s in SOURCES} == {s.prefix for s in SPECS}
    assert source_of("a kind no release had") is None


def test_a_model_folder_resolves_to_the_kind_of_model_in_it(tiny_classifier, tiny_causal):
    assert resolve(f"hf:{tiny_classifier}")[0].kind == "hf-classifier"
    assert resolve(f"hf:{tiny_causal}")[0].kind == "hf-causal"
    source, location = resolve("openai:http://gpu:8000/v1/")
    assert (source.kind, location) == ("endpoint", "http://gpu:8000/v1")
    assert resolve("labels")[0].kind == "labels"
    assert [s.quantizable for s in SOURCES] == [s.kind == "hf-classifier" for s in SOURCES]


def test_specs_round_trip_and_the_page_knows_which_take_a_prompt():
    for spec in SPECS:
        location = "" if spec.prefix == "labels" else "http://gpu:8000/v1"
        assert parse_spec(spec.spec(location)) == (spec.prefix, location)
    assert [s.prompted for s in SPECS] == [s.prefix != "labels" for s in SPECS]
    with pytest.raises(TeacherError, match="unknown teacher 'labels'"):
        parse_spec("labels:extra")


def test_the_kind_of_a_teacher_id_is_read_from_its_teach_run(teach_project, tiny_classifier):
    labels = run_stage(teach_project, TEACH, TeachConfig(teacher="labels"), reporter=NullReporter())
    model = run_stage(teach_project, TEACH, TeachConfig(teacher=f"hf:{tiny_classifier}"),
                      reporter=NullReporter())  # fmt: skip
    assert teacher_kind_of(teach_project, labels.teacher_id) == "labels"
    assert teacher_kind_of(teach_project, model.teacher_id) == "hf-classifier"
    assert teacher_kind_of(teach_project, "hf:never@seen") is None
    assert {labels.teacher_kind, model.teacher_kind} <= {s.kind for s in SOURCES}
