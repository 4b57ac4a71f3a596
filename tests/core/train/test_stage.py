"""The train stage on tiny models: full and LoRA runs, derived students, lineage, bad input."""

from __future__ import annotations

import json

import pytest
from train_helpers import LABELS, TEACHER_ID, fill_project

from core.errors import StudentModelError, TrainError
from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import events, list_runs
from core.project import Project, QualityFloor
from core.reporter import NullReporter, RecordingReporter
from core.train.config import TrainConfig

transformers = pytest.importorskip("transformers")


def _config(student, **overrides):
    values = dict(student=str(student), epochs=2, batch_size=4, checkpoint_every=4,
                  device="cpu", lr=1e-3)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def _project(tmp_path, name="p", **fill):
    project = Project.create(tmp_path / name, task="classification", labels=LABELS,
                             floor=QualityFloor(0.9))  # fmt: skip
    fill_project(project, 40, **fill)
    return project


def test_full_run_saves_a_plain_student_with_lineage(train_project, tiny_classifier):
    reporter = RecordingReporter()
    result = run_stage(train_project, TRAIN, _config(tiny_classifier), reporter=reporter)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(result.model_dir)
    assert model.config.id2label == dict(enumerate(LABELS))
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["teacher"]["teacher_id"] == TEACHER_ID
    assert lineage["student"]["base"] == str(tiny_classifier)
    assert lineage["training"]["seed"] == 42
    assert lineage["data"]["train_examples"] == result.train_examples == 24
    assert len(lineage["data"]["train_sha256"]) == 64
    assert lineage["data"]["datasets"][0]["sha256"].startswith("sha-")
    assert {"torch", "transformers", "peft"} <= lineage["versions"].keys()
    names = {name for name, _, _ in reporter.metrics}
    assert {"train/loss", "train/learning_rate", "train/eval_accuracy",
            "train/samples_per_s"} <= names  # fmt: skip
    curves = [json.loads(line) for line in result.curves_path.read_text().splitlines()]
    assert any("eval_accuracy" in point for point in curves)
    assert result.samples_per_s > 0
    stored = train_project.store.query(
        "SELECT name FROM metrics WHERE run_id = ?", (result.run_id,))  # fmt: skip
    assert {"train_samples_per_s", "accuracy"} <= {row["name"] for row in stored}


def test_lora_run_merges_the_adapters(train_project, tiny_classifier):
    from safetensors.torch import load_file

    result = run_stage(train_project, TRAIN, _config(tiny_classifier, lora=True, lr=5e-3),
                       reporter=NullReporter())  # fmt: skip
    merged = load_file(str(result.model_dir / "model.safetensors"))
    base = load_file(str(tiny_classifier / "model.safetensors"))
    assert not any("lora" in key for key in merged)
    query = "bert.encoder.layer.0.attention.self.query.weight"
    assert not (merged[query] == base[query]).all()  # the adapters were merged in
    key = "bert.encoder.layer.0.intermediate.dense.weight"
    assert (merged[key] == base[key]).all()  # not a LoRA target: untouched
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["training"]["lora"]["targets"] == ["key", "query", "value"]


def test_a_derived_student_trains_and_records_where_it_came_from(train_project, tiny_bert4):
    config = TrainConfig(derive=str(tiny_bert4), layers=2, epochs=1, batch_size=8,
                         checkpoint_every=3, device="cpu")  # fmt: skip
    result = run_stage(train_project, TRAIN, config, reporter=NullReporter())
    model = transformers.AutoModelForSequenceClassification.from_pretrained(result.model_dir)
    assert model.config.num_hidden_layers == 2
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["student"]["derived_from"]["kept_layers"] == [0, 3]


def test_missing_teacher_outputs_train_on_the_rest(tmp_path, tiny_classifier):
    project = _project(tmp_path, with_outputs=30)
    result = run_stage(project, TRAIN, _config(tiny_classifier, epochs=1), reporter=NullReporter())
    # Records 30..39 have no output; 6 of them are in the train split (3 of every 5).
    assert result.skipped == {"no_teacher_output": 6}
    assert result.train_examples == 18
    assert any("6 training records have no usable teacher output" in n for n in result.notes)


def test_a_short_max_length_warns_with_the_share_truncated(train_project, tiny_classifier):
    result = run_stage(train_project, TRAIN, _config(tiny_classifier, epochs=1, max_length=8),
                       reporter=NullReporter())  # fmt: skip
    assert result.truncated_share == 1.0
    assert any("100% of the training inputs (24 of 24)" in n for n in result.notes)


def test_an_empty_validation_split_holds_out_part_of_train(tmp_path, tiny_classifier):
    project = _project(tmp_path, splits=("train", "train", "test"))
    result = run_stage(project, TRAIN, _config(tiny_classifier, epochs=1), reporter=NullReporter())
    assert result.validation_examples == 2  # 10% of the 27 training records
    assert result.train_examples == 25
    assert any("validation split is empty" in n for n in result.notes)


def test_a_changed_label_set_is_refused(train_project, tiny_classifier):
    train_project.set_setting("labels", ["billing", "other"])
    with pytest.raises(TrainError, match=r"label set changed since teaching.*3 classes"):
        run_stage(train_project, TRAIN, _config(tiny_classifier), reporter=NullReporter())
    train_project.set_setting("labels", ["clinical", "billing", "other"])  # reordered
    with pytest.raises(TrainError, match="label set changed since teaching"):
        run_stage(train_project, TRAIN, _config(tiny_classifier), reporter=NullReporter())


def test_records_that_are_not_anonymized_need_an_explicit_opt_in(tmp_path, tiny_classifier):
    project = _project(tmp_path, anonymized=False)
    with pytest.raises(TrainError, match=r"not anonymized.*stillroom anonymize"):
        run_stage(project, TRAIN, _config(tiny_classifier, epochs=1), reporter=NullReporter())
    run_stage(project, TRAIN, _config(tiny_classifier, epochs=1, allow_raw_text=True),
              reporter=NullReporter())  # fmt: skip
    actions = [r["action"] for r in project.store.query("SELECT action FROM audit")]
    assert "train.raw_text" in actions


def test_a_student_that_cannot_do_the_task_is_named(tmp_path, tiny_classifier, train_project):
    gen = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.9))
    fill_project(gen, 10, generation=True)
    with pytest.raises(StudentModelError, match=r"cannot generate text.*ForCausalLM"):
        run_stage(gen, TRAIN, _config(tiny_classifier), reporter=NullReporter())
    folder = tmp_path / "vision"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "vit", "architectures": ["ViTModel"]}')
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(StudentModelError, match=r"no sequence-classification.*BERT, MiniLM"):
        run_stage(train_project, TRAIN, _config(folder), reporter=NullReporter())


def test_no_teacher_outputs_is_a_user_error(tmp_path, tiny_classifier):
    project = _project(tmp_path, with_outputs=0)
    with pytest.raises(TrainError, match="no teacher outputs to learn from") as raised:
        run_stage(project, TRAIN, _config(tiny_classifier), reporter=NullReporter())
    assert "stillroom teach" in raised.value.hint
    with pytest.raises(TrainError, match="no outputs of teacher 'nope'"):
        run_stage(
            project, TRAIN, _config(tiny_classifier, teacher_id="nope"), reporter=NullReporter()
        )


def test_no_record_text_reaches_events_audit_or_notes(tmp_path, tiny_classifier):
    project = _project(tmp_path, with_outputs=30, splits=("train", "train", "test"))
    result = run_stage(project, TRAIN, _config(tiny_classifier, epochs=1, max_length=8),
                       reporter=NullReporter())  # fmt: skip
    texts = [r["text"] for r in project.store.query("SELECT text FROM records")]
    texts += [r["text"] for r in project.store.query("SELECT text FROM anonymized")]
    audit = json.dumps([r["details"] for r in project.store.query("SELECT details FROM audit")])
    shown = audit + json.dumps(events(project, result.run_id)) + json.dumps(result.notes)
    shown += result.lineage_path.read_text() + result.curves_path.read_text()
    assert not any(text in shown for text in texts)
    assert "Jane Roe" not in shown
    assert list_runs(project, "train")[-1].status == "succeeded"


def test_keeping_the_final_weights_saves_the_last_step_and_reports_its_validation(
    train_project, tiny_classifier
):
    from safetensors.torch import load_file

    result = run_stage(train_project, TRAIN, _config(tiny_classifier, keep_best=False,
                                                     early_stopping=0))  # fmt: skip
    curves = [json.loads(line) for line in result.curves_path.read_text().splitlines()]
    validations = [point for point in curves if "eval_macro_f1" in point]
    assert validations[-1]["step"] == result.global_step
    assert result.best_val_metric == pytest.approx(validations[-1]["eval_macro_f1"])
    assert any("final weights were kept" in note for note in result.notes)
    last = result.model_dir.parent / "checkpoints" / f"checkpoint-{result.global_step}"
    saved = load_file(result.model_dir / "model.safetensors")
    final = load_file(last / "model.safetensors")
    assert all(bool((saved[name] == final[name]).all()) for name in final if name in saved)


def test_keeping_the_final_weights_refuses_early_stopping(tiny_classifier):
    with pytest.raises(TrainError, match="early stopping"):
        _config(tiny_classifier, keep_best=False, early_stopping=3).validate()
