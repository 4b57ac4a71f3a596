"""Teaching a generation project: an instructed default prompt, reference texts as the
teacher, ROUGE-L instead of accuracy and no classification wording (issue 17)."""

from __future__ import annotations

import json

import pytest
from teach_helpers import fill_records

from core.cli import main
from core.project import Project, QualityFloor
from core.teacher.prompts import default_template

CLASSIFICATION_WORDS = ("soft label", "accuracy", "human labels", ">>> None", "label set")


@pytest.fixture
def referenced(tmp_path):
    """A generation project whose six records each have a reference text."""
    proj = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.3))
    fill_records(proj, 6)
    yield proj
    proj.close()


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_generation_prompt_has_an_instruction():
    text = default_template("generation").text
    assert "{text}" in text
    assert text.strip() != "{text}"
    assert "Summar" in text


def test_reference_texts_as_teacher_report_rouge_not_accuracy(capsys, referenced):
    code, out, _ = run(capsys, "teach", referenced.path, "--teacher", "labels")
    assert code == 0, out
    assert "labelled 6 records" in out
    assert "teacher ROUGE-L vs the reference texts" in out
    assert "all 1.000 (n=6)" in out
    assert "answers from: text 6" in out
    assert "make sure they hold no names" in out
    for word in CLASSIFICATION_WORDS:
        assert word not in out.lower(), word


def test_bare_text_prompt_warns_and_preview_shows_text(capsys, referenced, tiny_causal, tmp_path):
    bare = tmp_path / "bare.txt"
    bare.write_text("{text}")
    teacher = ("--teacher", f"hf:{tiny_causal}", "--max-new-tokens", "3")
    code, out, _ = run(capsys, "teach", referenced.path, *teacher, "--prompt", bare, "--json")
    assert code == 0, out
    result = json.loads(out)
    assert any("no instruction" in w for w in result["warnings"])
    code, out, _ = run(capsys, "teach", referenced.path, *teacher, "--preview")
    assert code == 0, out
    assert "Summarise the text below" in out
    assert "reference: " in out
    assert ">>> None" not in out
