"""Local Hugging Face teachers and the stage's storage rules, on tiny config-built models."""

from __future__ import annotations

import json
import shutil

import pytest
from teach_helpers import fill_records

from core.errors import TeacherError, TeacherModelError, UserError
from core.jobs.execute import run_stage
from core.jobs.registry import TEACH
from core.project import Project, QualityFloor
from core.reporter import NullReporter, RecordingReporter, StageCancelled
from core.teacher.base import TeachItem
from core.teacher.config import TeachConfig
from core.teacher.local_causal import LocalCausalTeacher
from core.teacher.prompts import default_template
from core.teacher.softlabels import is_distribution


def _stored(project, teacher_prefix="hf:"):
    return project.store.query(
        "SELECT * FROM teacher_outputs WHERE teacher_id LIKE ? ORDER BY record_id",
        (f"{teacher_prefix}%",),
    )


def test_classifier_teacher_stores_soft_labels_once(teach_project, tiny_classifier):
    config = TeachConfig(teacher=f"hf:{tiny_classifier}", batch_size=8)
    result = run_stage(teach_project, TEACH, config, reporter=RecordingReporter())
    assert (result.teacher_kind, result.labelled, result.prompt_version) == (
        "hf-classifier",
        30,
        "",
    )
    rows = _stored(teach_project)
    assert len(rows) == 30
    vectors = [json.loads(r["probabilities"]) for r in rows]
    assert all(is_distribution(v) and len(v) == 3 for v in vectors)
    assert all(max(v) < 0.999 for v in vectors)  # soft, not one-hot
    assert {r["soft_label_source"] for r in rows} == {"logits"}
    assert set(result.accuracy) == {"train", "validation", "test", "all"}
    assert result.accuracy_n["all"] == 30

    again = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert (again.labelled, again.already_stored) == (0, 30)
    assert len(_stored(teach_project)) == 30


def test_temperature_softens_classifier_labels(teach_project, tiny_classifier):
    run_stage(teach_project, TEACH, TeachConfig(teacher=f"hf:{tiny_classifier}", temperature=1.0),
              reporter=NullReporter())  # fmt: skip
    run_stage(teach_project, TEACH, TeachConfig(teacher=f"hf:{tiny_classifier}", temperature=5.0),
              reporter=NullReporter())  # fmt: skip
    rows = teach_project.store.query(
        "SELECT teacher_id, probabilities FROM teacher_outputs WHERE record_id = 1"
    )
    by_t = {r["teacher_id"].rsplit("t=", 1)[1]: json.loads(r["probabilities"]) for r in rows}
    assert max(by_t["5"]) < max(by_t["1"])


def test_a_half_finished_anonymization_is_refused(tmp_path, tiny_classifier):
    with Project.create(tmp_path / "p", task="classification", labels=("billing", "clinical",
                        "other"), floor=QualityFloor(0.9)) as project:  # fmt: skip
        fill_records(project, 10, anonymized=4)
        with pytest.raises(TeacherError, match="6 records are not anonymized") as info:
            run_stage(project, TEACH, TeachConfig(teacher=f"hf:{tiny_classifier}"),
                      reporter=NullReporter())  # fmt: skip
        assert "stillroom anonymize" in info.value.hint
        assert _stored(project) == []


def test_settings_mixed_by_an_interrupted_re_run_are_refused(tmp_path, tiny_classifier):
    with Project.create(tmp_path / "p", task="classification", labels=("billing", "clinical",
                        "other"), floor=QualityFloor(0.9)) as project:  # fmt: skip
        fill_records(project, 6)
        project.store.conn.execute("UPDATE anonymized SET config_hash = 'new' WHERE record_id < 3")
        with pytest.raises(TeacherError, match="2 different settings"):
            run_stage(project, TEACH, TeachConfig(teacher=f"hf:{tiny_classifier}"),
                      reporter=NullReporter())  # fmt: skip


def test_no_anonymized_records_says_to_anonymize_first(tmp_path, tiny_classifier):
    with Project.create(tmp_path / "p", task="classification", labels=("billing", "clinical",
                        "other"), floor=QualityFloor(0.9)) as project:  # fmt: skip
        fill_records(project, 5, anonymized=0)
        with pytest.raises(UserError, match="no anonymized records") as info:
            run_stage(project, TEACH, TeachConfig(teacher=f"hf:{tiny_classifier}"),
                      reporter=NullReporter())  # fmt: skip
        assert "stillroom anonymize" in info.value.hint


def test_causal_teacher_reads_the_next_token_distribution(teach_project, tiny_causal):
    config = TeachConfig(teacher=f"hf:{tiny_causal}", batch_size=8)
    result = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert result.teacher_kind == "hf-causal"
    assert "answers=letters" in result.teacher_id  # the tiny tokenizer splits " billing"
    assert result.prompt_version == default_template("classification").version
    rows = _stored(teach_project)
    assert len(rows) == 30
    vectors = [json.loads(r["probabilities"]) for r in rows]
    assert all(is_distribution(v) for v in vectors)
    assert all(max(v) < 0.99 for v in vectors)  # a real distribution, not one-hot
    assert all(0 < r["label_mass"] <= 1 for r in rows)
    assert json.loads(rows[0]["token_logprobs"])[0]["top"]
    stored = teach_project.setting("teacher.prompts")
    assert result.prompt_version in stored


def _items(n):
    from tiny_models import LABELS, anonymized_text

    return [TeachItem(i, "train", None, anonymized_text(LABELS[i % 3], i)) for i in range(n)]


def test_batched_equals_one_by_one(tiny_causal):
    kwargs = {"task": "classification", "labels": ("billing", "clinical", "other"),
              "template": default_template("classification")}  # fmt: skip
    batched = LocalCausalTeacher(tiny_causal, batch_size=6, **kwargs)
    single = LocalCausalTeacher(tiny_causal, batch_size=1, **kwargs)
    a = [o for b in batched.outputs(_items(6)) for o in b.outputs]
    b = [o for b in single.outputs(_items(6)) for o in b.outputs]
    for x, y in zip(a, b, strict=True):
        assert x.probabilities == pytest.approx(y.probabilities, abs=1e-4)


def test_labels_that_are_not_single_tokens(tiny_causal):
    labels = ("needs_follow_up_visit", "routine_refill_request")
    template = default_template("classification")
    auto = LocalCausalTeacher(tiny_causal, task="classification", labels=labels,
                              template=template)  # fmt: skip
    assert auto.mapping is not None
    assert auto.mapping.kind == "letters"
    assert "A) needs_follow_up_visit" in auto.prompt("x")
    with pytest.raises(TeacherError, match="not single tokens") as info:
        LocalCausalTeacher(tiny_causal, task="classification", labels=labels,
                           template=template, label_tokens="names")  # fmt: skip
    assert "--label-tokens letters" in info.value.hint


def test_generation_stores_text_and_token_logprobs(generation_project, tiny_causal):
    config = TeachConfig(teacher=f"hf:{tiny_causal}", max_new_tokens=5, top_logprobs=3)
    result = run_stage(generation_project, TEACH, config, reporter=NullReporter())
    assert result.labelled == 6
    row = _stored(generation_project)[0]
    assert row["probabilities"] is None
    tokens = json.loads(row["token_logprobs"])
    assert 1 <= len(tokens) <= 5
    assert {"id", "token", "logprob", "top"} <= set(tokens[0])
    assert len(tokens[0]["top"]) <= 3
    assert row["output_tokens"] == len(tokens)


def test_cancel_commits_done_batches_and_resumes(teach_project, tiny_classifier):
    config = TeachConfig(teacher=f"hf:{tiny_classifier}", batch_size=4)
    with pytest.raises(StageCancelled):
        run_stage(teach_project, TEACH, config, reporter=RecordingReporter(cancel_after=2))
    assert len(_stored(teach_project)) == 8
    result = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert (result.already_stored, result.labelled) == (8, 22)
    assert teach_project.store.scalar("SELECT COUNT(DISTINCT record_id) FROM teacher_outputs") == 30


def test_limit(teach_project, tiny_classifier):
    config = TeachConfig(teacher=f"hf:{tiny_classifier}", limit=7, batch_size=3)
    assert run_stage(teach_project, TEACH, config, reporter=NullReporter()).labelled == 7


def test_existing_labels_become_one_hot(teach_project):
    result = run_stage(teach_project, TEACH, TeachConfig(teacher="labels"), reporter=NullReporter())
    assert result.labelled == 30
    assert result.accuracy["all"] == 1.0
    row = _stored(teach_project, "labels")[0]
    assert json.loads(row["probabilities"]) == [1.0, 0.0, 0.0]
    assert row["soft_label_source"] == "human"


@pytest.mark.parametrize("case", ["missing", "hub_id", "empty", "no_weights", "encoder", "junk"])
def test_a_folder_that_is_not_a_model(tmp_path, teach_project, tiny_classifier, case):
    folder = tmp_path / "m"
    folder.mkdir()
    spec = str(folder)
    if case == "missing":
        spec = str(tmp_path / "nope")
    elif case == "hub_id":
        spec = "meta-llama/Llama-3-8B"
    elif case == "no_weights":
        (folder / "config.json").write_text('{"architectures": ["BertForSequenceClassification"]}')
    elif case == "encoder":
        (folder / "config.json").write_text('{"architectures": ["BertModel"]}')
        (folder / "model.safetensors").write_bytes(b"x")
    elif case == "junk":
        shutil.copy(tiny_classifier / "config.json", folder / "config.json")
        (folder / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(TeacherModelError) as info:
        run_stage(teach_project, TEACH, TeachConfig(teacher=f"hf:{spec}"), reporter=NullReporter())
    assert info.value.hint
    if case == "hub_id":
        assert "never downloads" in info.value.hint
    assert _stored(teach_project) == []
