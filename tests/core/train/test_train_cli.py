"""``stillroom train`` and ``stillroom models`` through the CLI."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.commands.train_commands import render_train
from core.configs import from_json
from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.jobs.runs import list_runs
from core.reporter import NullReporter, RecordingReporter
from core.train.config import TrainConfig, TrainResult


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _options(student):
    return ["--student", student, "--epochs", "2", "--batch-size", "4",
            "--checkpoint-every", "4", "--device", "cpu", "--early-stopping", "0"]  # fmt: skip


def test_train_prints_the_student_and_writes_json(capsys, train_project, tiny_classifier):
    code, out, _ = run(capsys, "train", train_project.path, *_options(tiny_classifier), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["global_step"] == 12
    assert result["model_dir"].endswith("/student")
    lines = render_train(from_json(TrainResult, result))
    assert lines[0] == f"trained student: {result['model_dir']}"
    assert any("samples/s on cpu" in line for line in lines)


def test_the_same_command_resumes_a_stopped_run(capsys, train_project, tiny_classifier):
    config = TrainConfig(student=str(tiny_classifier), epochs=2, batch_size=4,
                         checkpoint_every=4, device="cpu", early_stopping=0)  # fmt: skip
    with pytest.raises(Exception, match="cancelled"):
        run_stage(train_project, TRAIN, config, reporter=RecordingReporter(cancel_after=5))
    stopped = list_runs(train_project, "train")[-1].id
    code, out, _ = run(capsys, "train", train_project.path, *_options(tiny_classifier),
                       "--batch-size", "2", "--grad-accum", "2", "--json")  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    assert (result["run_id"], result["resumed_from_step"]) == (stopped, 5)
    assert (result["batch_size"], result["grad_accum"]) == (2, 2)
    assert len(list_runs(train_project, "train")) == 1


def test_resume_refuses_options_that_change_what_is_learnt(capsys, train_project,
                                                           tiny_classifier):  # fmt: skip
    config = TrainConfig(student=str(tiny_classifier), epochs=1, batch_size=4, device="cpu")
    with pytest.raises(Exception, match="cancelled"):
        run_stage(train_project, TRAIN, config, reporter=RecordingReporter(cancel_after=2))
    stopped = list_runs(train_project, "train")[-1].id
    code, _, err = run(capsys, "train", train_project.path, "--resume", stopped, "--alpha", "0.1")
    assert code == 2
    assert "alpha cannot change when a run is resumed" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--layers", "2", "--student", "x"], "--layers applies only with --derive"),
     ([], "name exactly one student"),
     (["--derive", "x", "--layers", "0"], "--layers must be at least 1"),
     (["--student", "x", "--alpha", "2"], "--alpha must be in [0, 1]"),
     (["--student", "x", "--device", "tpu"], "--device must be"),
     (["--student", "x", "--augment-rare", "-1"], "--augment-rare must be between 0 and 20"),
     (["--student", "/no/such/model"], "does not exist on this machine")],
)  # fmt: skip
def test_bad_options_exit_2_with_one_line(capsys, train_project, argv, message):
    code, _, err = run(capsys, "train", train_project.path, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_in_a_worker_process(capsys, train_project, tiny_classifier):
    code, out, err = run(capsys, "train", train_project.path, *_options(tiny_classifier),
                         "--worker", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["global_step"] == 12
    assert "eval_accuracy" in err  # validation lines rendered from the worker's events


def test_models_lists_parameters_size_memory_and_tasks(capsys, tiny_classifier, tiny_causal,
                                                       tiny_bert4):  # fmt: skip
    code, out, _ = run(capsys, "models", tiny_classifier.parent, "--json")
    assert code == 0
    models = {m["path"]: m for m in json.loads(out)["models"]}
    entry = models[str(tiny_classifier)]
    assert entry["tasks"] == ["classification"]
    assert entry["parameters"] > 10_000
    assert entry["memory_bytes"]["train_full_fp32"] == 16 * entry["parameters"]
    assert models[str(tiny_causal)]["tasks"] == ["classification", "generation"]
    code, out, _ = run(capsys, "models", tiny_bert4)
    assert code == 0
    assert "bert" in out
    assert "full FT" in out


def test_models_includes_a_projects_students(capsys, train_project, tiny_classifier):
    result = run_stage(train_project, TRAIN, TrainConfig(student=str(tiny_classifier), epochs=1,
                       batch_size=8, device="cpu"), reporter=NullReporter())  # fmt: skip
    code, out, _ = run(capsys, "models", tiny_classifier, "--project", train_project.path,
                       "--json")  # fmt: skip
    assert code == 0
    assert str(result.model_dir) in {m["path"] for m in json.loads(out)["models"]}


def test_models_describes_each_model_once_until_a_file_changes(monkeypatch, tmp_path,
                                                               tiny_classifier):  # fmt: skip
    # Describing imports transformers' model tables and reads GGUF headers: `stillroom
    # models` took 30 s (issue 17). A second listing reads the cache instead.
    import shutil

    from core.train import catalogue as cat

    monkeypatch.setenv("STILLROOM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cat, "_CACHE", cat._DescribeCache())
    model = tmp_path / "models" / "tiny"
    shutil.copytree(tiny_classifier, model)
    first = cat.catalogue([model.parent])
    assert (tmp_path / "cache" / "catalogue.json").is_file()
    monkeypatch.setattr(cat, "_CACHE", cat._DescribeCache())  # a new process: read from disk
    calls = []
    real = cat.describe
    monkeypatch.setattr(cat, "describe", lambda path: calls.append(path) or real(path))
    assert cat.catalogue([model.parent]) == first
    assert calls == []
    (model / "config.json").write_text((model / "config.json").read_text() + "\n")
    assert [e.path for e in cat.catalogue([model.parent])] == [e.path for e in first]
    assert calls == [model.resolve()]
