"""``stillroom teach`` through the CLI: sources, preview, prompt files, bad input."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.jobs.runs import list_runs


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["teach", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "openai:BASE_URL" in out
    for option in ("--allow-insecure-http", "--ca-bundle", "--max-reply-bytes", "--timeout"):
        assert option in out


def test_labels_source_prints_accuracy(capsys, teach_project):
    code, out, _ = run(capsys, "teach", teach_project.path, "--teacher", "labels")
    assert code == 0
    assert "labelled 30 records" in out
    assert "teacher accuracy vs human labels" in out
    assert "all 1.000 (n=30)" in out
    assert [r.status for r in list_runs(teach_project, "teach")] == ["succeeded"]


def test_local_classifier_as_json(capsys, teach_project, tiny_classifier):
    code, out, _ = run(capsys, "teach", teach_project.path, "--teacher", f"hf:{tiny_classifier}",
                       "--json")  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["labelled"] == 30
    assert result["teacher_kind"] == "hf-classifier"
    assert set(result["accuracy"]) >= {"train", "all"}
    metrics = teach_project.store.query(
        "SELECT split, value FROM metrics WHERE run_id = ? AND name = 'teacher_accuracy'",
        (result["run_id"],),
    )
    assert {m["split"] for m in metrics} >= {"train", "all"}
    # The audit log holds counts, ids and costs, never record text.
    details = " ".join(r["details"] for r in teach_project.store.query("SELECT details FROM audit"))
    assert teach_project.store.scalar("SELECT COUNT(*) FROM audit WHERE action = 'teach.finish'")
    assert "invoice" not in details
    assert "Jane Roe" not in details


def test_endpoint_preview_shows_anonymized_prompts_and_stores_nothing(capsys, teach_project,
                                                                    server):  # fmt: skip
    code, out, _ = run(capsys, "teach", teach_project.path, "--teacher",
                       f"openai:{server.base_url}", "--model", "tiny", "--preview")  # fmt: skip
    assert code == 0
    assert out.count("--- record #") == 5
    assert "<PERSON> writes:" in out
    assert "Jane Roe" not in out
    assert "A) billing" in out
    assert teach_project.store.scalar("SELECT COUNT(*) FROM teacher_outputs") == 0
    assert teach_project.setting("teacher.prompts") is None
    assert list_runs(teach_project, "teach") == []


def test_edited_prompt_is_versioned(capsys, teach_project, server, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Which category?\n{choices}\n\nMessage: {text}\nAnswer with a letter:")
    code, out, _ = run(capsys, "teach", teach_project.path, "--teacher",
                       f"openai:{server.base_url}", "--model", "tiny", "--prompt", prompt,
                       "--limit", "3", "--json")  # fmt: skip
    assert code == 0
    version = json.loads(out)["prompt_version"]
    assert teach_project.setting("teacher.prompts")[version]["text"].startswith("Which category")
    assert all(p.startswith("Which category?") for p in server.prompts)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--teacher", "hf:{tmp}/nope"], "does not exist"),
        (["--teacher", "meta-llama/Llama-3-8B"], "unknown teacher"),
        (["--teacher", "openai:http://127.0.0.1:9/v1"], "needs a model name"),
        (["--teacher", "openai:http://127.0.0.1:9/v1", "--model", "m"], "cannot reach"),
        (["--teacher", "labels", "--prompt", "{tmp}/p.txt"], "applies only to LLM teachers"),
        (["--teacher", "labels", "--concurrency", "0"], "--concurrency"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, teach_project, tmp_path, argv, expected):
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, "teach", teach_project.path, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("stillroom: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert expected in err


def test_bad_prompt_template_is_refused(capsys, teach_project, server, tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("Classify: {text}")
    teacher = f"openai:{server.base_url}"
    code, _, err = run(capsys, "teach", teach_project.path, "--teacher", teacher, "--model",
                       "tiny", "--prompt", prompt)  # fmt: skip
    assert code == 2
    assert "{choices}" in err


def test_project_without_anonymized_records(capsys, tmp_path, tiny_classifier):
    target = tmp_path / "p"
    run(capsys, "init", target, "--floor", "0.9", "--labels", "a,b")
    code, _, err = run(capsys, "teach", target, "--teacher", f"hf:{tiny_classifier}")
    assert code == 2
    assert "stillroom anonymize" in err
